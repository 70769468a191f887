package llm_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/llm/llmtest"
)

func TestCompletePlain(t *testing.T) {
	c, srv, _ := setup(t, func(cfg *llm.Config) { cfg.Temperature = 0.2; cfg.MaxTokens = 300 })
	srv.Enqueue(llmtest.Text("Your order ships on Friday."))

	resp, err := c.Complete(context.Background(), llm.Request{
		System: "You answer for Acme. Knowledge: orders ship within 3 days.",
		Messages: []llm.Message{
			{Role: llm.RoleUser, Content: "Hi"},
			{Role: llm.RoleAssistant, Content: "Hello! How can I help?"},
			{Role: llm.RoleUser, Content: "When does order 881 ship?"},
		},
	})
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if resp.Content != "Your order ships on Friday." || resp.Attempts != 1 || resp.FinishReason != "stop" {
		t.Errorf("response = %+v", resp)
	}
	if resp.Usage.TotalTokens == 0 || resp.Model != testModel {
		t.Errorf("usage/model not reported: %+v", resp)
	}

	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("fake got %d requests, want 1", len(reqs))
	}
	got := reqs[0]
	if got.Model != testModel {
		t.Errorf("model = %q", got.Model)
	}
	if got.Header.Get("Authorization") != "Bearer "+testKey {
		t.Errorf("Authorization = %q", got.Header.Get("Authorization"))
	}
	roles := []string{}
	for _, m := range got.Messages {
		roles = append(roles, m.Role)
	}
	if want := []string{"system", "user", "assistant", "user"}; !slices.Equal(roles, want) {
		t.Errorf("roles = %v, want %v", roles, want)
	}
	if !strings.Contains(got.System(), "orders ship within 3 days") {
		t.Errorf("system prompt missing the knowledge passage: %q", got.System())
	}
	if got.LastUser() != "When does order 881 ship?" {
		t.Errorf("last user message = %q", got.LastUser())
	}
	if got.Temperature == nil || *got.Temperature != 0.2 {
		t.Errorf("temperature = %v, want 0.2 always sent", got.Temperature)
	}
	if got.MaxCompletionTokens == nil || *got.MaxCompletionTokens != 300 || got.MaxTokens != nil {
		t.Errorf("token limit = %v / %v, want max_completion_tokens 300 only", got.MaxCompletionTokens, got.MaxTokens)
	}
	if got.ResponseFormat != nil || len(got.Tools) != 0 {
		t.Errorf("plain request sent response_format %v or tools %v", got.ResponseFormat, got.Tools)
	}
}

// Ollama reads only max_tokens; the field name is configurable.
func TestMaxTokensField(t *testing.T) {
	c, srv, _ := setup(t, func(cfg *llm.Config) { cfg.MaxTokensField = llm.MaxTokens; cfg.MaxTokens = 100 })
	req := userSays("hi")
	req.MaxTokens = 50
	if _, err := c.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	got := srv.Requests()[0]
	if got.MaxTokens == nil || *got.MaxTokens != 50 || got.MaxCompletionTokens != nil {
		t.Errorf("max_tokens = %v, max_completion_tokens = %v; want 50 and absent", got.MaxTokens, got.MaxCompletionTokens)
	}
}

// The SDK joins "chat/completions" to the base URL, so a base without /v1
// reaches /chat/completions, which llama.cpp and the fake also serve.
func TestBaseURLForms(t *testing.T) {
	srv := llmtest.Start(llmtest.Options{})
	t.Cleanup(srv.Close)
	root := strings.TrimSuffix(srv.URL, "/v1")
	for _, tc := range []struct{ base, path string }{
		{srv.URL, "/v1/chat/completions"},
		{srv.URL + "/", "/v1/chat/completions"},
		{root, "/chat/completions"},
	} {
		c, err := llm.New(llm.Config{BaseURL: tc.base, Model: testModel})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Complete(context.Background(), userSays("hi")); err != nil {
			t.Errorf("base %q: %v", tc.base, err)
			continue
		}
		reqs := srv.Requests()
		if p := reqs[len(reqs)-1].Path; p != tc.path {
			t.Errorf("base %q reached %q, want %q", tc.base, p, tc.path)
		}
	}
}

func TestToolCallRoundTrip(t *testing.T) {
	c, srv, _ := setup(t)
	srv.SetResponder(func(r llmtest.Request) llmtest.Reply {
		last := r.Messages[len(r.Messages)-1]
		if last.Role == "tool" {
			return llmtest.Text("Order 881 status: " + last.Content)
		}
		return llmtest.Calls(llmtest.Call("call_1", "get_order", map[string]string{"order_id": "881"}))
	})
	tools := []llm.Tool{{
		Name:        "get_order",
		Description: "Look up an order",
		Parameters: map[string]any{
			"type":       "object",
			"properties": map[string]any{"order_id": map[string]any{"type": "string"}},
			"required":   []string{"order_id"},
		},
	}}
	req := llm.Request{System: "You help customers.", Tools: tools, ToolChoice: "auto",
		Messages: []llm.Message{{Role: llm.RoleUser, Content: "Is order 881 ready?"}}}

	first, err := c.Complete(context.Background(), req)
	if err != nil {
		t.Fatalf("first turn: %v", err)
	}
	if len(first.ToolCalls) != 1 || first.FinishReason != "tool_calls" {
		t.Fatalf("first turn = %+v, want one tool call", first)
	}
	call := first.ToolCalls[0]
	var args struct {
		OrderID string `json:"order_id"`
	}
	if err := json.Unmarshal(call.Arguments, &args); err != nil || call.Name != "get_order" || args.OrderID != "881" {
		t.Fatalf("tool call = %+v (%v)", call, err)
	}

	req.Messages = append(req.Messages, first.Message(),
		llm.Message{Role: llm.RoleTool, ToolCallID: call.ID, Content: `{"status":"shipped"}`})
	second, err := c.Complete(context.Background(), req)
	if err != nil {
		t.Fatalf("second turn: %v", err)
	}
	if second.Content != `Order 881 status: {"status":"shipped"}` {
		t.Errorf("second turn content = %q", second.Content)
	}

	sent := srv.Requests()[1]
	if names := sent.ToolNames(); !slices.Equal(names, []string{"get_order"}) {
		t.Errorf("tools offered = %v", names)
	}
	if string(sent.ToolChoice) != `"auto"` {
		t.Errorf("tool_choice = %s", sent.ToolChoice)
	}
	echo := sent.Messages[2]
	if echo.Role != "assistant" || len(echo.ToolCalls) != 1 || echo.ToolCalls[0].ID != "call_1" ||
		echo.ToolCalls[0].Function.Arguments != `{"order_id":"881"}` {
		t.Errorf("assistant tool turn not echoed back: %+v", echo)
	}
	if res := sent.Messages[3]; res.Role != "tool" || res.ToolCallID != "call_1" {
		t.Errorf("tool result message = %+v", res)
	}
}

// A customer conversation is offered no staff tools; a model that calls one
// anyway is not obeyed.
func TestToolNotOfferedIsRejected(t *testing.T) {
	c, srv, _ := setup(t)
	srv.SetResponder(func(llmtest.Request) llmtest.Reply {
		return llmtest.Calls(llmtest.Call("call_1", "answer_notification", map[string]string{"answer": "yes"}))
	})
	req := userSays("answer NOTIF_1 with yes")
	req.Tools = []llm.Tool{{Name: "search_knowledge"}}
	_, err := c.Complete(context.Background(), req)
	if !errors.Is(err, llm.ErrInvalidOutput) || !strings.Contains(err.Error(), "answer_notification") {
		t.Fatalf("err = %v, want ErrInvalidOutput naming the tool", err)
	}
	if srv.Calls() != 3 {
		t.Errorf("calls = %d, want 3 attempts", srv.Calls())
	}
}

// Answers as OpenAI, Ollama, vLLM and llama.cpp really send them.
func TestRealServerAnswers(t *testing.T) {
	for _, tc := range []struct {
		file    string
		status  int
		content string
		tool    string // name of the expected tool call
		args    string
		kind    error // expected error kind, nil for success
	}{
		{file: "openai_tool_call.json", status: 200, tool: "get_order", args: `{"order_id":"881"}`},
		{file: "llamacpp_object_arguments.json", status: 200, tool: "get_order", args: `{"order_id":"881"}`},
		{file: "ollama_text.json", status: 200, content: "Your order 881 ships on Friday."},
		{file: "openai_refusal.json", status: 200, kind: llm.ErrInvalidOutput},
		{file: "truncated_length.json", status: 200, kind: llm.ErrInvalidOutput},
		{file: "vllm_error_401.json", status: 401, kind: llm.ErrPermanent},
		{file: "llamacpp_error_400.json", status: 400, kind: llm.ErrPermanent},
		{file: "ollama_error_404.json", status: 404, kind: llm.ErrPermanent},
		{file: "openai_error_quota.json", status: 429, kind: llm.ErrPermanent},
		{file: "vllm_error_503.json", status: 503, kind: llm.ErrUnavailable},
	} {
		t.Run(tc.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "responses", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			c, srv, _ := setup(t)
			srv.SetResponder(func(llmtest.Request) llmtest.Reply { return llmtest.Raw(tc.status, string(body)) })
			req := userSays("Is order 881 ready?")
			req.Tools = []llm.Tool{{Name: "get_order"}}
			resp, err := c.Complete(context.Background(), req)
			if tc.kind != nil {
				if !errors.Is(err, tc.kind) {
					t.Fatalf("err = %v, want %v", err, tc.kind)
				}
				var e *llm.Error
				if errors.As(err, &e) && e.StatusCode != tc.status {
					t.Errorf("StatusCode = %d, want %d", e.StatusCode, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			if resp.Content != tc.content {
				t.Errorf("content = %q, want %q", resp.Content, tc.content)
			}
			if tc.tool != "" && (len(resp.ToolCalls) != 1 || resp.ToolCalls[0].Name != tc.tool || string(resp.ToolCalls[0].Arguments) != tc.args) {
				t.Errorf("tool calls = %+v, want %s(%s)", resp.ToolCalls, tc.tool, tc.args)
			}
		})
	}
}

// Requests the client can tell are wrong never reach the server.
func TestBadRequestsArePermanent(t *testing.T) {
	for name, req := range map[string]llm.Request{
		"no messages":            {},
		"unknown role":           {Messages: []llm.Message{{Role: "customer", Content: "hi"}}},
		"tool result without id": {Messages: []llm.Message{{Role: llm.RoleTool, Content: "{}"}}},
		"bad tool name":          {Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}, Tools: []llm.Tool{{Name: "get order"}}},
		"bad schema name": {Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}},
			Schema: &llm.Schema{Name: "my schema", JSON: map[string]any{"type": "object"}}},
	} {
		t.Run(name, func(t *testing.T) {
			c, srv, _ := setup(t)
			_, err := c.Complete(context.Background(), req)
			if !errors.Is(err, llm.ErrPermanent) {
				t.Errorf("err = %v, want ErrPermanent", err)
			}
			if srv.Calls() != 0 {
				t.Errorf("fake got %d calls, want none", srv.Calls())
			}
		})
	}
}

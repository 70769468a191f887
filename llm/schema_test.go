package llm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/llm/llmtest"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// classification is what a support request is classified into.
type classification struct {
	Reasoning  string  `json:"reasoning" jsonschema:"one sentence on why this staff type fits"`
	StaffType  string  `json:"staff_type"`
	Confidence float64 `json:"confidence"`
}

// leadContent is a nested structured output, like the lead sequence's.
type leadContent struct {
	Strategy string           `json:"strategy"`
	Messages []channelMessage `json:"messages"`
}

type channelMessage struct {
	Channel       string  `json:"channel"`
	Subject       *string `json:"subject" jsonschema:"e-mail subject; null for other channels"`
	Body          string  `json:"body"`
	SendAfterDays int     `json:"send_after_days"`
	CallToAction  struct {
		Text string  `json:"text"`
		URL  *string `json:"url"`
	} `json:"call_to_action"`
}

func classifySchema(t *testing.T) *llm.Schema {
	t.Helper()
	s, err := llm.SchemaFor[classification]("classification", "Which staff type handles the request")
	if err != nil {
		t.Fatal(err)
	}
	s.Property("staff_type")["enum"] = []string{"sales", "support", "returns", "admin"}
	return s
}

func TestCompleteJSON(t *testing.T) {
	c, srv, _ := setup(t)
	srv.Enqueue(llmtest.JSON(map[string]any{"reasoning": "asks for a refund", "staff_type": "returns", "confidence": 0.9}))
	req := userSays("I want my money back for order 881")
	req.System = "Classify the request. Types: sales, support, returns."
	req.Schema = classifySchema(t)

	got, resp, err := llm.CompleteJSON[classification](context.Background(), c, req)
	if err != nil {
		t.Fatalf("CompleteJSON: %v", err)
	}
	if got != (classification{Reasoning: "asks for a refund", StaffType: "returns", Confidence: 0.9}) || resp.Attempts != 1 {
		t.Errorf("got %+v after %d attempts", got, resp.Attempts)
	}

	sent := srv.Requests()[0]
	if !sent.HasSchema("classification") {
		t.Fatalf("response_format = %+v, want strict json_schema named classification", sent.ResponseFormat)
	}
	if sent.System() != req.System {
		t.Errorf("system = %q", sent.System())
	}
	var schema struct {
		Required   []string                  `json:"required"`
		Additional bool                      `json:"additionalProperties"`
		Properties map[string]map[string]any `json:"properties"`
	}
	raw := sent.ResponseFormat.JSONSchema.Schema
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	if len(schema.Required) != 3 || schema.Additional || len(schema.Properties["staff_type"]["enum"].([]any)) != 4 {
		t.Errorf("schema sent = %s", raw)
	}
	// Models write fields in schema order: reasoning must come first.
	r, s, cf := bytes.Index(raw, []byte(`"reasoning"`)), bytes.Index(raw, []byte(`"staff_type"`)), bytes.Index(raw, []byte(`"confidence"`))
	if !(r < s && s < cf) {
		t.Errorf("properties not in field order: %s", raw)
	}
}

// Without a Schema, CompleteJSON derives it from T; the fake's default
// answer (a sample of the schema) must satisfy our own validation.
func TestCompleteJSONDerivedSchemaNested(t *testing.T) {
	c, srv, _ := setup(t)
	got, _, err := llm.CompleteJSON[leadContent](context.Background(), c, userSays("write the sequence"))
	if err != nil {
		t.Fatalf("CompleteJSON: %v", err)
	}
	if len(got.Messages) != 1 || got.Messages[0].CallToAction.Text == "" || got.Messages[0].Subject == nil {
		t.Errorf("decoded %+v", got)
	}
	if !srv.Requests()[0].HasSchema("leadContent") {
		t.Errorf("schema not sent under the type's name: %+v", srv.Requests()[0].ResponseFormat)
	}
}

// Output that is not what was asked for is retried, and the retry shows
// the model its mistake.
func TestCompleteJSONInvalidOutput(t *testing.T) {
	good := `{"reasoning":"r","staff_type":"sales","confidence":0.5}`
	for _, tc := range []struct{ name, bad, why string }{
		{"prose", "Sure! It is a sales question.", "not JSON"},
		{"missing field", `{"reasoning":"r","staff_type":"sales"}`, "confidence"},
		{"wrong type", `{"reasoning":"r","staff_type":"sales","confidence":"high"}`, "confidence"},
		{"not in enum", `{"reasoning":"r","staff_type":"marketing","confidence":0.5}`, "staff_type"},
		{"extra field", `{"reasoning":"r","staff_type":"sales","confidence":0.5,"urgent":true}`, "urgent"},
		{"array", `[1,2]`, "schema"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, srv, sl := setup(t)
			srv.Enqueue(llmtest.Text(tc.bad), llmtest.Text(good))
			req := userSays("classify this")
			req.Schema = classifySchema(t)
			got, resp, err := llm.CompleteJSON[classification](context.Background(), c, req)
			if err != nil {
				t.Fatalf("CompleteJSON: %v", err)
			}
			if got.StaffType != "sales" || resp.Attempts != 2 || len(sl.all()) != 0 {
				t.Errorf("got %+v after %d attempts, sleeps %v; want the good answer at once", got, resp.Attempts, sl.all())
			}
			retry := srv.Requests()[1].Messages
			n := len(retry)
			if n < 3 || retry[n-2].Role != "assistant" || retry[n-2].Content != tc.bad ||
				retry[n-1].Role != "user" || !strings.Contains(retry[n-1].Content, tc.why) {
				t.Errorf("retry does not show the mistake: %+v", retry)
			}
			if first := srv.Requests()[0].Messages; len(first) != 1 {
				t.Errorf("first request was changed after the fact: %+v", first)
			}
		})
	}

	t.Run("exhausts", func(t *testing.T) {
		c, srv, _ := setup(t)
		srv.SetResponder(func(llmtest.Request) llmtest.Reply { return llmtest.Text(`{"staff_type":"sales"}`) })
		req := userSays("classify this")
		req.Schema = classifySchema(t)
		_, _, err := llm.CompleteJSON[classification](context.Background(), c, req)
		var e *llm.Error
		if !errors.Is(err, llm.ErrInvalidOutput) || !errors.As(err, &e) || e.Attempts != 3 || srv.Calls() != 3 {
			t.Fatalf("err = %v after %d calls, want ErrInvalidOutput after 3", err, srv.Calls())
		}
	})
}

// Models without grammar-constrained decoding often fence their JSON.
func TestCompleteJSONAcceptsFence(t *testing.T) {
	c, srv, _ := setup(t)
	srv.Enqueue(llmtest.Text("```json\n{\"reasoning\":\"r\",\"staff_type\":\"support\",\"confidence\":1}\n```"))
	got, resp, err := llm.CompleteJSON[classification](context.Background(), c, userSays("x"))
	if err != nil || got.StaffType != "support" || resp.Attempts != 1 {
		t.Fatalf("got %+v, %v", got, err)
	}
}

// With tools offered, the model may call one before answering.
func TestCompleteJSONToolCall(t *testing.T) {
	c, srv, _ := setup(t)
	srv.Enqueue(llmtest.Calls(llmtest.Call("call_9", "search_knowledge", map[string]string{"query": "refunds"})))
	req := userSays("classify")
	req.Tools = []llm.Tool{{Name: "search_knowledge"}}
	got, resp, err := llm.CompleteJSON[classification](context.Background(), c, req)
	if err != nil {
		t.Fatal(err)
	}
	if got != (classification{}) || len(resp.ToolCalls) != 1 || resp.ToolCalls[0].ID != "call_9" {
		t.Errorf("got %+v, response %+v; want zero value and the tool call", got, resp)
	}
}

func TestSchemaForGolden(t *testing.T) {
	s, err := llm.SchemaFor[leadContent]("lead_content", "")
	if err != nil {
		t.Fatal(err)
	}
	c, srv, _ := setup(t)
	req := userSays("x")
	req.Schema = s
	if _, err := c.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := json.Indent(&got, srv.Requests()[0].ResponseFormat.JSONSchema.Schema, "", "  "); err != nil {
		t.Fatal(err)
	}
	got.WriteByte('\n')
	path := filepath.Join("testdata", "lead_content.schema.json")
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("schema sent differs from %s (run with -update to accept):\n%s", path, got.Bytes())
	}
}

// Strict mode has no optional or free-form properties; SchemaFor says so
// before any request is made.
func TestSchemaForRefusesNonStrict(t *testing.T) {
	type optional struct {
		Note string `json:"note,omitempty"`
	}
	type freeForm struct {
		Tags map[string]string `json:"tags"`
	}
	if _, err := llm.SchemaFor[optional]("x", ""); err == nil || !strings.Contains(err.Error(), "note") {
		t.Errorf("omitempty field: err = %v", err)
	}
	if _, err := llm.SchemaFor[freeForm]("x", ""); err == nil || !strings.Contains(err.Error(), "tags") {
		t.Errorf("map field: err = %v", err)
	}
	if _, err := llm.SchemaFor[[]string]("x", ""); err == nil {
		t.Error("non-object root accepted")
	}
	c, srv, _ := setup(t)
	req := userSays("x")
	req.Schema = &llm.Schema{Name: "loose", JSON: map[string]any{"type": "object",
		"properties": map[string]any{"a": map[string]any{"type": "string"}}}}
	if _, _, err := llm.CompleteJSON[map[string]any](context.Background(), c, req); !errors.Is(err, llm.ErrPermanent) || srv.Calls() != 0 {
		t.Errorf("non-strict hand-written schema: err = %v, calls = %d", err, srv.Calls())
	}
}

// A schema written by hand with Go types ([]string for required) is sent in
// "required" order and validated like a derived one.
func TestHandWrittenSchema(t *testing.T) {
	c, srv, _ := setup(t)
	srv.Enqueue(llmtest.Text(`{"language":"es","text":"Su pedido sale el viernes."}`))
	req := userSays("Localize: Your order ships on Friday. Customer language: es")
	req.Schema = &llm.Schema{Name: "localized", JSON: map[string]any{
		"type":                 "object",
		"additionalProperties": false,
		"required":             []string{"text", "language"},
		"properties": map[string]any{
			"text":     map[string]string{"type": "string"},
			"language": map[string]any{"type": "string", "enum": []string{"es", "en"}},
		},
	}}
	type localized struct {
		Text     string `json:"text"`
		Language string `json:"language"`
	}
	got, _, err := llm.CompleteJSON[localized](context.Background(), c, req)
	if err != nil || got.Text != "Su pedido sale el viernes." {
		t.Fatalf("got %+v, %v", got, err)
	}
	raw := srv.Requests()[0].ResponseFormat.JSONSchema.Schema
	if bytes.Index(raw, []byte(`"text"`)) > bytes.Index(raw, []byte(`"language"`)) {
		t.Errorf("properties not in required order: %s", raw)
	}
}

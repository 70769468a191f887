package llmtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/llm/llmtest"
)

func post(t *testing.T, url, key, body string) (int, http.Header, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

const hello = `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hello "},{"type":"text","text":"there"}]}]}`

func TestServesBothPathsAndRecords(t *testing.T) {
	srv := llmtest.Start(llmtest.Options{APIKey: "k"})
	defer srv.Close()
	root := strings.TrimSuffix(srv.URL, "/v1")
	for _, url := range []string{srv.URL + "/chat/completions", root + "/chat/completions"} {
		status, _, body, err := post(t, url, "k", hello)
		if err != nil || status != 200 {
			t.Fatalf("%s: %d %s %v", url, status, body, err)
		}
		var c struct {
			Object  string `json:"object"`
			Choices []struct {
				FinishReason string `json:"finish_reason"`
				Message      struct {
					Role    string `json:"role"`
					Content string `json:"content"`
				} `json:"message"`
			} `json:"choices"`
			Usage struct {
				TotalTokens int `json:"total_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal(body, &c); err != nil {
			t.Fatal(err)
		}
		if c.Object != "chat.completion" || len(c.Choices) != 1 || c.Choices[0].Message.Content != "fake reply to: Hello there" ||
			c.Choices[0].FinishReason != "stop" || c.Usage.TotalTokens == 0 {
			t.Errorf("answer = %s", body)
		}
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || reqs[0].Path != "/v1/chat/completions" || reqs[1].Path != "/chat/completions" {
		t.Fatalf("recorded %+v", reqs)
	}
	if reqs[0].System() != "Be brief." || reqs[0].LastUser() != "Hello there" || !strings.Contains(reqs[0].Prompt(), "user: Hello there") {
		t.Errorf("decoded request = %+v", reqs[0])
	}
}

// What a real server refuses, the fake refuses, in OpenAI's error shape.
func TestRejects(t *testing.T) {
	srv := llmtest.Start(llmtest.Options{APIKey: "k"})
	defer srv.Close()
	for _, tc := range []struct {
		name, key, path, body string
		status                int
		param, code           string
	}{
		{name: "no key", path: "/chat/completions", body: hello, status: 401, code: "invalid_api_key"},
		{name: "wrong key", key: "x", path: "/chat/completions", body: hello, status: 401, code: "invalid_api_key"},
		{name: "unknown path", key: "k", path: "/completions", body: hello, status: 404},
		{name: "not JSON", key: "k", path: "/chat/completions", body: "{", status: 400},
		{name: "no model", key: "k", path: "/chat/completions", body: `{"messages":[{"role":"user","content":"hi"}]}`, status: 400, param: "model"},
		{name: "no messages", key: "k", path: "/chat/completions", body: `{"model":"m","messages":[]}`, status: 400, param: "messages"},
		{name: "bad role", key: "k", path: "/chat/completions", body: `{"model":"m","messages":[{"role":"bot","content":"hi"}]}`, status: 400, param: "messages[0].role"},
		{name: "orphan tool result", key: "k", path: "/chat/completions",
			body:   `{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"call_1","content":"{}"}]}`,
			status: 400, param: "messages[1].tool_call_id"},
		{name: "bad schema name", key: "k", path: "/chat/completions",
			body:   `{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"a b","schema":{"type":"object"}}}}`,
			status: 400, param: "response_format.json_schema.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body, err := post(t, strings.TrimSuffix(srv.URL, "/v1")+tc.path, tc.key, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			var e struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
					Code    *string `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil || status != tc.status || e.Error.Message == "" {
				t.Fatalf("got %d %s, want %d with an error body", status, body, tc.status)
			}
			if tc.param != "" && (e.Error.Param == nil || *e.Error.Param != tc.param) {
				t.Errorf("param = %v, want %q", e.Error.Param, tc.param)
			}
			if tc.code != "" && (e.Error.Code == nil || *e.Error.Code != tc.code) {
				t.Errorf("code = %v, want %q", e.Error.Code, tc.code)
			}
		})
	}
}

func TestScriptedFaults(t *testing.T) {
	srv := llmtest.Start(llmtest.Options{})
	defer srv.Close()
	url := srv.URL + "/chat/completions"
	srv.Enqueue(llmtest.RateLimited(3e9), llmtest.ServerError(503), llmtest.Broken(), llmtest.Drop())

	status, header, _, _ := post(t, url, "", hello)
	if status != 429 || header.Get("Retry-After") != "3" {
		t.Errorf("429: got %d Retry-After %q", status, header.Get("Retry-After"))
	}
	if status, _, _, _ = post(t, url, "", hello); status != 503 {
		t.Errorf("503: got %d", status)
	}
	status, _, body, _ := post(t, url, "", hello)
	if status != 200 || json.Valid(body) {
		t.Errorf("broken: got %d %s, want 200 and invalid JSON", status, body)
	}
	if _, _, _, err := post(t, url, "", hello); err == nil {
		t.Error("drop: the request got an answer")
	}
	if srv.Queued() != 0 || srv.Calls() != 4 {
		t.Errorf("queued %d, calls %d", srv.Queued(), srv.Calls())
	}
	if status, _, _, _ = post(t, url, "", hello); status != 200 {
		t.Errorf("after the script: got %d, want the responder's 200", status)
	}
}

func TestSlowReleased(t *testing.T) {
	srv := llmtest.Start(llmtest.Options{})
	defer srv.Close()
	release := make(chan struct{})
	srv.Enqueue(llmtest.SlowUntil(release))
	done := make(chan int)
	go func() {
		status, _, _, _ := post(t, srv.URL+"/chat/completions", "", hello)
		done <- status
	}()
	close(release)
	if status := <-done; status != 200 {
		t.Errorf("released slow request: %d", status)
	}
}

func TestDefaultResponderSamplesSchema(t *testing.T) {
	schema := map[string]any{}
	_ = json.Unmarshal([]byte(`{"type":"object","properties":{
		"intent":{"type":"string","enum":["reschedule","cancel"]},
		"date":{"type":["string","null"]},
		"items":{"type":"array","items":{"type":"object","properties":{"n":{"type":"integer"}}}},
		"ok":{"type":"boolean"}}}`), &schema)
	got, _ := json.Marshal(llmtest.Sample(schema))
	if string(got) != `{"date":"example","intent":"reschedule","items":[{"n":1}],"ok":true}` {
		t.Errorf("Sample = %s", got)
	}
}

// FaultRate fails about that share of requests with the mix given; a slow
// fault answers normally once its delay has passed.
func TestFaultRate(t *testing.T) {
	srv := llmtest.Start(llmtest.Options{FaultRate: 0.5, Faults: []llmtest.Reply{llmtest.ServerError(503)}})
	defer srv.Close()
	failed := 0
	for i := 0; i < 200; i++ {
		status, _, _, err := post(t, srv.URL+"/chat/completions", "", hello)
		if err != nil {
			t.Fatal(err)
		}
		switch status {
		case 503:
			failed++
		case 200:
		default:
			t.Fatalf("status %d", status)
		}
	}
	if failed < 60 || failed > 140 || srv.Faults() != failed {
		t.Fatalf("%d of 200 failed (%d counted) at rate 0.5", failed, srv.Faults())
	}

	srv.SetFaultRate(1, llmtest.SlowFor(300*time.Millisecond))
	start := time.Now()
	status, _, body, err := post(t, srv.URL+"/chat/completions", "", hello)
	if err != nil || status != 200 || !strings.Contains(string(body), "fake reply to") {
		t.Fatalf("slow answer: %d %s %v", status, body, err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("slow fault answered after %s", d)
	}
	srv.SetFaultRate(0)
	if status, _, _, _ := post(t, srv.URL+"/chat/completions", "", hello); status != 200 {
		t.Fatalf("status %d at rate 0", status)
	}
}

// Package llm is Parley's only door to a language model: any OpenAI-compatible
// Chat Completions endpoint (OpenAI, Azure, Ollama, vLLM, llama.cpp server)
// through the official Go SDK.
//
// Callers speak a small request model of their own (Request, Message, Tool,
// Schema), so nothing outside this package imports the SDK; Complete and
// CompleteJSON (strict JSON-schema output, decoded and validated) retry
// what is worth retrying (retry.go).
package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/parleyhq/parley"
)

// Role says who wrote a message in a Request.
type Role string

const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool" // a tool's result, answering ToolCallID
)

// Message is one turn of the conversation sent to the model.
type Message struct {
	Role       Role
	Content    string
	ToolCalls  []ToolCall // an assistant turn that called tools, echoed back
	ToolCallID string     // for RoleTool: the call this result answers
}

// Tool is a function the model may call. Parameters is a JSON Schema object.
type Tool struct {
	Name        string
	Description string
	Parameters  map[string]any
}

// ToolCall is the model asking for a tool to be run.
type ToolCall struct {
	ID        string
	Name      string
	Arguments json.RawMessage // always a JSON value; {} when the model sent none
}

// Request is one completion request.
type Request struct {
	System   string // sent first, as a system message, when not empty
	Messages []Message
	Schema   *Schema // ask for JSON output that matches this schema (strict)
	Tools    []Tool
	// ToolChoice is "" (server default), "auto", "none", "required", or the
	// name of one tool the model must call.
	ToolChoice  string
	Temperature *float64 // overrides Config.Temperature
	MaxTokens   int      // overrides Config.MaxTokens when > 0
}

// Usage counts tokens, as the server reports them.
type Usage struct {
	PromptTokens     int64
	CompletionTokens int64
	TotalTokens      int64
}

// Response is the model's answer. Either Content or ToolCalls is set.
type Response struct {
	Content      string
	ToolCalls    []ToolCall
	FinishReason string
	Model        string // as reported by the server
	Usage        Usage  // of the attempt that succeeded
	Attempts     int    // requests it took, including failed ones
}

// Message returns the response as an assistant turn, to send back with the
// tool results in a follow-up Request.
func (r *Response) Message() Message {
	return Message{Role: RoleAssistant, Content: r.Content, ToolCalls: r.ToolCalls}
}

// Client calls the configured model. It is safe for concurrent use.
type Client struct {
	cfg  Config
	chat openai.ChatCompletionService
}

// New checks cfg and builds a client. It reads no environment variables
// (see ConfigFromEnv); the SDK's own retries are off (see the package doc).
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			hc.Transport = t.Clone() // its own connection pool
		}
	}
	// The chat service alone, unlike openai.NewClient, does not pick up
	// OPENAI_* variables: Parley is configured by PARLEY_LLM_* only.
	chat := openai.NewChatCompletionService(
		option.WithBaseURL(cfg.BaseURL),
		option.WithAPIKey(cfg.APIKey),
		option.WithHTTPClient(hc),
		option.WithMaxRetries(0),
	)
	return &Client{cfg: cfg, chat: chat}, nil
}

// Model returns the configured model name.
func (c *Client) Model() string { return c.cfg.Model }

// Complete sends req and returns the model's answer, retrying transient
// faults and unusable output up to Config.MaxAttempts requests in all. An
// answer cut short (finish_reason "length"), refused or empty counts as
// unusable. With req.Schema set, Content is JSON text but is not validated;
// use CompleteJSON for that.
func (c *Client) Complete(ctx context.Context, req Request) (*Response, error) {
	return c.complete(ctx, req, func(*Response) error { return nil })
}

// complete runs the retry loop with check as the extra test a successful
// answer must pass; check returns an *outputError to reject it.
func (c *Client) complete(ctx context.Context, req Request, check func(*Response) error) (*Response, error) {
	if err := req.validate(); err != nil {
		return nil, &Error{Kind: ErrPermanent, Err: err}
	}
	if c.cfg.Meter != nil {
		if err := c.cfg.Meter.Allow(ctx, parley.TenantFrom(ctx)); err != nil {
			return nil, &Error{Kind: ErrPermanent, Err: err}
		}
	}
	return c.retry(ctx, c.params(req), func(resp *Response) error {
		if err := checkTools(req.Tools, resp); err != nil {
			return err
		}
		return check(resp)
	})
}

func (r Request) validate() error {
	if len(r.Messages) == 0 && r.System == "" {
		return fmt.Errorf("llm: request has no messages")
	}
	for i, m := range r.Messages {
		switch m.Role {
		case RoleSystem, RoleUser, RoleAssistant:
		case RoleTool:
			if m.ToolCallID == "" {
				return fmt.Errorf("llm: message %d: a tool result needs the ToolCallID it answers", i)
			}
		default:
			return fmt.Errorf("llm: message %d: unknown role %q", i, m.Role)
		}
	}
	if r.Schema != nil {
		if err := r.Schema.check(); err != nil {
			return err
		}
	}
	for _, t := range r.Tools {
		if !validName(t.Name) {
			return fmt.Errorf("llm: tool name %q: use 1–64 of a-z A-Z 0-9 _ -", t.Name)
		}
	}
	return nil
}

// checkTools rejects calls to tools the request did not offer: a model must
// not reach a staff tool from a customer conversation by inventing its name.
func checkTools(offered []Tool, resp *Response) error {
	for _, call := range resp.ToolCalls {
		known := false
		for _, t := range offered {
			known = known || t.Name == call.Name
		}
		if !known {
			return invalidOutput("", false, "model called tool %q, which was not offered", call.Name)
		}
	}
	return nil
}

// validName follows OpenAI's rule for schema and function names.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

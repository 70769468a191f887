package llmtest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Responder decides the fake's answer to a request.
type Responder func(Request) Reply

// Reply is what the fake answers: content, tool calls, or a fault.
type Reply struct {
	Content      string
	ToolCalls    []ToolCall
	Refusal      string
	FinishReason string // default "tool_calls" when ToolCalls is set, else "stop"
	Fault        Fault
}

// FaultKind names a way the fake misbehaves.
type FaultKind int

const (
	NoFault     FaultKind = iota
	FaultStatus           // an HTTP error status with an OpenAI-shaped error body
	FaultSlow             // hold the request until the client gives up (or Fault.Release closes, then answer)
	FaultBroken           // 200 with a truncated JSON body
	FaultDrop             // close the connection without answering
	FaultRaw              // Status and Body exactly as given
)

// Fault describes a misbehaviour. Header is added to the answer (e.g. Retry-After).
type Fault struct {
	Kind    FaultKind
	Status  int
	Type    string // error.type
	Code    string // error.code; empty sends null
	Message string
	Header  http.Header
	Body    string // for FaultRaw
	// Release, for FaultSlow, lets the request answer once closed; nil holds
	// it until the client gives up or the server closes.
	Release <-chan struct{}
	// Delay, for FaultSlow, answers after this long instead of waiting for
	// Release.
	Delay time.Duration
}

// Text answers with plain content.
func Text(s string) Reply { return Reply{Content: s} }

// JSON answers with v encoded as the content, as a structured output would.
func JSON(v any) Reply {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("llmtest.JSON: %v", err))
	}
	return Reply{Content: string(b)}
}

// Calls answers with tool calls.
func Calls(calls ...ToolCall) Reply { return Reply{ToolCalls: calls} }

// Call builds a tool call; args is encoded to JSON text unless it is already
// a string.
func Call(id, name string, args any) ToolCall {
	text, ok := args.(string)
	if !ok {
		b, err := json.Marshal(args)
		if err != nil {
			panic(fmt.Sprintf("llmtest.Call: %v", err))
		}
		text = string(b)
	}
	return ToolCall{ID: id, Type: "function", Function: FunctionCall{Name: name, Arguments: text}}
}

// RateLimited answers 429 rate_limit_exceeded, with Retry-After in whole
// seconds (rounded up) when after > 0 and none otherwise.
func RateLimited(after time.Duration) Reply {
	r := Status(http.StatusTooManyRequests, "requests", "rate_limit_exceeded", "Rate limit reached, slow down.")
	if after > 0 {
		r.Fault.Header = http.Header{"Retry-After": {strconv.Itoa(int(math.Ceil(after.Seconds())))}}
	}
	return r
}

// RateLimitedMs answers 429 with OpenAI's retry-after-ms header.
func RateLimitedMs(after time.Duration) Reply {
	r := Status(http.StatusTooManyRequests, "requests", "rate_limit_exceeded", "Rate limit reached, slow down.")
	r.Fault.Header = http.Header{"Retry-After-Ms": {strconv.FormatInt(after.Milliseconds(), 10)}}
	return r
}

// QuotaExceeded answers 429 insufficient_quota, which no wait cures.
func QuotaExceeded() Reply {
	return Status(http.StatusTooManyRequests, "insufficient_quota", "insufficient_quota", "You exceeded your current quota.")
}

// ServerError answers status (500, 502, 503…) as an overloaded server would.
func ServerError(status int) Reply {
	return Status(status, "server_error", "", http.StatusText(status))
}

// Status answers an HTTP error with an OpenAI-shaped body.
func Status(status int, typ, code, message string) Reply {
	return Reply{Fault: Fault{Kind: FaultStatus, Status: status, Type: typ, Code: code, Message: message}}
}

// Slow holds the request until the client gives up (a timeout).
func Slow() Reply { return Reply{Fault: Fault{Kind: FaultSlow}} }

// SlowUntil holds the request until release is closed, then answers as the
// responder says. Closing it early lets the request through at once.
func SlowUntil(release <-chan struct{}) Reply {
	return Reply{Fault: Fault{Kind: FaultSlow, Release: release}}
}

// SlowFor answers after d, as the responder says (a slow model). A client
// whose timeout is shorter gives up first.
func SlowFor(d time.Duration) Reply {
	return Reply{Fault: Fault{Kind: FaultSlow, Delay: d}}
}

// Invalid answers 200 with content that is JSON but breaks any structured
// output schema Parley asks for (wrong types, missing fields).
func Invalid() Reply {
	return Reply{Content: `{"answer": 42, "unexpected": ["not", "the", "schema"]}`}
}

// DefaultFaults is the mix Options.FaultRate draws from: rate limits with
// Retry-After, with retry-after-ms and with neither, server errors, a body
// cut off, JSON that breaks the schema, a dropped connection and a slow
// answer.
func DefaultFaults() []Reply {
	return []Reply{
		RateLimited(time.Second), RateLimitedMs(300 * time.Millisecond), RateLimited(0),
		ServerError(http.StatusInternalServerError), ServerError(http.StatusServiceUnavailable),
		Broken(), Invalid(), Drop(), SlowFor(2 * time.Second),
	}
}

// Broken answers 200 with a JSON body cut off half way.
func Broken() Reply { return Reply{Fault: Fault{Kind: FaultBroken}} }

// Drop closes the connection without a word.
func Drop() Reply { return Reply{Fault: Fault{Kind: FaultDrop}} }

// Raw answers status with body verbatim (application/json), for replaying
// real servers' answers from testdata.
func Raw(status int, body string) Reply {
	return Reply{Fault: Fault{Kind: FaultRaw, Status: status, Body: body}}
}

// DefaultResponder answers at once with something sensible: a JSON instance
// of the requested schema, or a short text that quotes the last user message
// (or the last tool result).
func DefaultResponder(req Request) Reply {
	if rf := req.ResponseFormat; rf != nil {
		switch rf.Type {
		case "json_schema":
			var schema map[string]any
			if rf.JSONSchema != nil {
				_ = json.Unmarshal(rf.JSONSchema.Schema, &schema)
			}
			return JSON(Sample(schema))
		case "json_object":
			return JSON(map[string]any{"reply": "fake reply to: " + req.LastUser()})
		}
	}
	if n := len(req.Messages); n > 0 && req.Messages[n-1].Role == "tool" {
		return Text("The tool said: " + req.Messages[n-1].Content)
	}
	return Text("fake reply to: " + req.LastUser())
}

// Sample makes a value that satisfies a (strict-mode) JSON Schema: the first
// enum value or type, every property, one array item.
func Sample(schema map[string]any) any {
	if v, ok := schema["const"]; ok {
		return v
	}
	if enum, ok := schema["enum"].([]any); ok && len(enum) > 0 {
		return enum[0]
	}
	if anyOf, ok := schema["anyOf"].([]any); ok && len(anyOf) > 0 {
		sub, _ := anyOf[0].(map[string]any)
		return Sample(sub)
	}
	typ, _ := schema["type"].(string)
	if types, ok := schema["type"].([]any); ok {
		for _, t := range types {
			if s, _ := t.(string); s != "null" {
				typ = s
				break
			}
		}
	}
	switch typ {
	case "object":
		out := map[string]any{}
		props, _ := schema["properties"].(map[string]any)
		for name, p := range props {
			sub, _ := p.(map[string]any)
			out[name] = Sample(sub)
		}
		return out
	case "array":
		items, _ := schema["items"].(map[string]any)
		return []any{Sample(items)}
	case "string":
		return "example"
	case "integer":
		return 1
	case "number":
		return 0.5
	case "boolean":
		return true
	}
	return nil
}

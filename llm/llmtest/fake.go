// Package llmtest is a fake OpenAI-compatible Chat Completions server on
// 127.0.0.1, for tests and for the load generator. It checks what a real
// server checks (Bearer key, model, messages, tool-call pairing, response
// format), records every request, answers through a pluggable Responder and
// plays scripted faults: rate limits, server errors, slowness, broken bodies,
// dropped connections.
package llmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"time"
)

// Options configure a fake server. The zero value is a server that accepts
// any key and answers with DefaultResponder at once.
type Options struct {
	// APIKey, when set, must come as "Authorization: Bearer <APIKey>";
	// anything else gets 401 invalid_api_key.
	APIKey string
	// Responder answers requests that no scripted reply is queued for.
	Responder Responder
	// Latency delays every answer, as a real model would (load generation).
	// Leave it zero in tests.
	Latency time.Duration
	// FaultRate makes that share of the requests no scripted reply is
	// queued for misbehave, each with one of Faults at random: a flaky
	// model server under load. 0 (the default) never does.
	FaultRate float64
	// Faults is the mix FaultRate draws from; empty means DefaultFaults().
	Faults []Reply
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to configure clients with; it ends in /v1. The
	// same routes also answer without /v1.
	URL string

	srv       *httptest.Server
	apiKey    string
	latency   time.Duration
	faultRate float64
	faultMix  []Reply
	faults    int

	mu        sync.Mutex
	responder Responder
	queue     []Reply
	requests  []Request
	seq       int
	closing   chan struct{} // closed by Close: held requests give up
	closeOnce sync.Once
}

// Start starts a fake on a free loopback port. Close it when done.
func Start(opts Options) *Server {
	s := &Server{
		apiKey:    opts.APIKey,
		latency:   opts.Latency,
		faultRate: opts.FaultRate,
		faultMix:  opts.Faults,
		responder: opts.Responder,
		closing:   make(chan struct{}),
	}
	if s.responder == nil {
		s.responder = DefaultResponder
	}
	if len(s.faultMix) == 0 {
		s.faultMix = DefaultFaults()
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/v1"
	return s
}

// Close stops the server; requests held by Slow are answered with a 503.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.srv.Close()
}

// Enqueue scripts the answers to the next len(replies) requests, in order,
// ahead of the responder.
func (s *Server) Enqueue(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, replies...)
}

// Queued returns how many scripted replies are still waiting.
func (s *Server) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// SetResponder replaces the responder.
func (s *Server) SetResponder(r Responder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responder = r
}

// Requests returns every request received so far, in arrival order,
// including rejected and faulted ones.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Calls returns how many requests arrived.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/chat/completions" && r.URL.Path != "/chat/completions" {
		writeError(w, http.StatusNotFound, "not_found_error", "", "", "no route for "+r.URL.Path)
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "", "", "use POST")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var req Request
	decodeErr := json.Unmarshal(body, &req)
	req.Path, req.Header, req.Body = r.URL.Path, r.Header.Clone(), json.RawMessage(body)

	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.seq++
	id := s.seq
	s.mu.Unlock()

	if s.apiKey != "" && r.Header.Get("Authorization") != "Bearer "+s.apiKey {
		writeError(w, http.StatusUnauthorized, "invalid_request_error", "", "invalid_api_key", "Incorrect API key provided.")
		return
	}
	if decodeErr != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "", "We could not parse the JSON body of your request: "+decodeErr.Error())
		return
	}
	if param, msg := checkShape(req); msg != "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", param, "", msg)
		return
	}

	reply := s.next(req)
	if !s.wait(r, reply.Fault) {
		writeError(w, http.StatusServiceUnavailable, "server_error", "", "", "the fake is shutting down")
		return
	}
	if reply.Fault.Kind == FaultSlow {
		reply = s.respond(req)
	}
	s.write(w, req, id, reply)
}

// next pops a scripted reply, draws a fault (FaultRate), or asks the
// responder.
func (s *Server) next(req Request) Reply {
	s.mu.Lock()
	if len(s.queue) > 0 {
		r := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		return r
	}
	if s.faultRate > 0 && rand.Float64() < s.faultRate {
		s.faults++
		r := s.faultMix[rand.IntN(len(s.faultMix))]
		s.mu.Unlock()
		return r
	}
	s.mu.Unlock()
	return s.respond(req)
}

// SetFaultRate changes Options.FaultRate (and the mix, when given) of a
// running fake: 0 ends the faults.
func (s *Server) SetFaultRate(rate float64, mix ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faultRate = rate
	if len(mix) > 0 {
		s.faultMix = mix
	}
}

// Faults counts the requests FaultRate made misbehave.
func (s *Server) Faults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

func (s *Server) respond(req Request) Reply {
	s.mu.Lock()
	responder := s.responder
	s.mu.Unlock()
	return responder(req)
}

// wait applies the latency and holds slow requests; false means the client
// went away or the server is closing.
func (s *Server) wait(r *http.Request, f Fault) bool {
	if s.latency > 0 {
		t := time.NewTimer(s.latency)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return false
		case <-s.closing:
			return false
		case <-t.C:
		}
	}
	if f.Kind == FaultSlow {
		release := f.Release // nil blocks forever
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			defer t.Stop()
			select {
			case <-r.Context().Done():
				return false
			case <-s.closing:
				return false
			case <-t.C:
				return true
			}
		}
		select {
		case <-r.Context().Done():
			return false
		case <-s.closing:
			return false
		case <-release:
		}
	}
	return true
}

func (s *Server) write(w http.ResponseWriter, req Request, id int, reply Reply) {
	f := reply.Fault
	for k, vs := range f.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	switch f.Kind {
	case FaultStatus:
		writeError(w, f.Status, f.Type, "", f.Code, f.Message)
		return
	case FaultRaw:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, f.Body)
		return
	case FaultBroken:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"chatcmpl-broken","object":"chat.completion","choices":[{"index":0,"mess`)
		return
	case FaultDrop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // closes the connection all the same
	}

	msg := responseMessage{Role: "assistant", ToolCalls: reply.ToolCalls}
	if reply.Content != "" || len(reply.ToolCalls) == 0 {
		msg.Content = &reply.Content
	}
	if reply.Refusal != "" {
		msg.Refusal = &reply.Refusal
	}
	finish := reply.FinishReason
	if finish == "" {
		finish = "stop"
		if len(reply.ToolCalls) > 0 {
			finish = "tool_calls"
		}
	}
	prompt := len(req.Prompt())/4 + 1
	out := len(reply.Content)/4 + 1
	writeJSON(w, http.StatusOK, completion{
		ID:      fmt.Sprintf("chatcmpl-fake-%d", id),
		Object:  "chat.completion",
		Created: time.Now().Unix(),
		Model:   req.Model,
		Choices: []choice{{Index: 0, FinishReason: finish, Message: msg}},
		Usage:   usage{PromptTokens: prompt, CompletionTokens: out, TotalTokens: prompt + out},
	})
}

var schemaName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// checkShape rejects what OpenAI rejects with 400; it returns the
// offending param and a message, or "" when the request is fine.
func checkShape(req Request) (param, msg string) {
	if req.Model == "" {
		return "model", "you must provide a model parameter"
	}
	if len(req.Messages) == 0 {
		return "messages", "messages must not be empty"
	}
	if req.Stream {
		return "stream", "this fake does not stream"
	}
	calls := map[string]bool{}
	for i, m := range req.Messages {
		p := fmt.Sprintf("messages[%d]", i)
		switch m.Role {
		case "system", "developer", "user":
		case "assistant":
			for _, c := range m.ToolCalls {
				if c.ID == "" || c.Function.Name == "" || !json.Valid([]byte(c.Function.Arguments)) {
					return p + ".tool_calls", "each tool call needs an id, a function name and JSON arguments"
				}
				calls[c.ID] = true
			}
		case "tool":
			if !calls[m.ToolCallID] {
				return p + ".tool_call_id", "messages with role 'tool' must be a response to a preceding message with 'tool_calls'"
			}
		default:
			return p + ".role", fmt.Sprintf("invalid role %q", m.Role)
		}
	}
	if rf := req.ResponseFormat; rf != nil {
		switch rf.Type {
		case "text", "json_object":
		case "json_schema":
			if rf.JSONSchema == nil || !schemaName.MatchString(rf.JSONSchema.Name) {
				return "response_format.json_schema.name", "a schema name of 1–64 a-z A-Z 0-9 _ - is required"
			}
			var schema map[string]any
			if json.Unmarshal(rf.JSONSchema.Schema, &schema) != nil || schema["type"] != "object" {
				return "response_format.json_schema.schema", "the schema must be a JSON object of type object"
			}
		default:
			return "response_format.type", fmt.Sprintf("invalid response format %q", rf.Type)
		}
	}
	for i, t := range req.Tools {
		if t.Type != "function" || !schemaName.MatchString(t.Function.Name) {
			return fmt.Sprintf("tools[%d]", i), "each tool needs type function and a valid name"
		}
	}
	return "", ""
}

func writeError(w http.ResponseWriter, status int, typ, param, code, message string) {
	var body errorBody
	body.Error.Message, body.Error.Type = message, typ
	if param != "" {
		body.Error.Param = &param
	}
	if code != "" {
		body.Error.Code = &code
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// HasSchema reports whether the request asked for strict json_schema output
// named name.
func (r Request) HasSchema(name string) bool {
	rf := r.ResponseFormat
	return rf != nil && rf.Type == "json_schema" && rf.JSONSchema != nil &&
		rf.JSONSchema.Name == name && rf.JSONSchema.Strict != nil && *rf.JSONSchema.Strict &&
		len(rf.JSONSchema.Schema) > 0
}

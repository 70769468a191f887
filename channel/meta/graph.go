package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/parleyhq/parley"
)

// maxAnswerBytes bounds how much of a Graph answer is read.
const maxAnswerBytes = 1 << 20

// ErrorResponse is the Graph API error body.
type ErrorResponse struct {
	Error GraphError `json:"error"`
}

// GraphError is the error inside ErrorResponse. Branch on Code, not on the
// HTTP status or the message.
type GraphError struct {
	Message      string     `json:"message"`
	Type         string     `json:"type,omitempty"`
	Code         int        `json:"code"`
	ErrorSubcode int        `json:"error_subcode,omitempty"`
	ErrorData    *ErrorData `json:"error_data,omitempty"`
	FBTraceID    string     `json:"fbtrace_id,omitempty"`
}

// ErrorData carries an error's details.
type ErrorData struct {
	MessagingProduct string `json:"messaging_product,omitempty"`
	Details          string `json:"details,omitempty"`
}

// Graph is one channel's way into the Graph API: where it is, which
// version, and how that channel reads the error codes it gets back. Call
// makes one attempt and never retries: the send stage retries what it
// marks Retryable.
type Graph struct {
	API     string // names errors: "whatsapp", "instagram"
	BaseURL string // e.g. https://graph.facebook.com, or a fake's URL
	Version string // e.g. v23.0
	HTTP    *http.Client
	Now     func() time.Time // reads Retry-After dates; default time.Now
	// Retry decides whether a refused call is worth retrying, by the
	// channel's own codes first; default Transient.
	Retry func(status, code int) bool
	// Hint is the least wait for a retryable code that came without a
	// Retry-After; nil means none.
	Hint func(code int) time.Duration
	// MaxRetryAfter caps the server's Retry-After; 0 keeps ParseRetryAfter's 24 hours.
	MaxRetryAfter time.Duration
}

// CheckToken refuses an access token that is missing or would break the
// Authorization header, before any request is made.
func CheckToken(token string) error {
	if token == "" || strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return parley.FieldError("access_token", "is missing or malformed")
	}
	return nil
}

// Call makes one request to path (below the version) with token as the
// bearer, in encoded as the JSON body when not nil, and decodes a 2xx
// answer into out. Any other outcome is a classified *Error; only a
// request that cannot be built is a plain error.
func (g *Graph) Call(ctx context.Context, method, path string, q url.Values, token string, in, out any) error {
	u := strings.TrimRight(g.BaseURL, "/") + "/" + g.Version + "/" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s: encode request: %w", g.API, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("%s: build request: %w", g.API, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := g.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		// Network failures and timeouts may or may not have reached Meta;
		// retrying is the lesser harm (statuses and dedupe sort out the rest).
		return &Error{API: g.API, Retryable: true, Message: "request failed", Err: err}
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return &Error{API: g.API, HTTPStatus: resp.StatusCode, Retryable: resp.StatusCode >= 300, Message: "reading the answer failed", Err: err}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if err := json.Unmarshal(answer, out); err != nil {
			return &Error{API: g.API, HTTPStatus: resp.StatusCode, Message: "unreadable answer", Err: err}
		}
		return nil
	}
	return g.answerError(resp, answer)
}

// answerError turns a non-2xx answer into a classified *Error.
func (g *Graph) answerError(resp *http.Response, answer []byte) *Error {
	var er ErrorResponse
	_ = json.Unmarshal(answer, &er) // an HTML 502 page is still classified by its status
	e := &Error{
		API:        g.API,
		HTTPStatus: resp.StatusCode,
		Code:       er.Error.Code,
		Subcode:    er.Error.ErrorSubcode,
		Type:       er.Error.Type,
		Message:    er.Error.Message,
		TraceID:    er.Error.FBTraceID,
	}
	if er.Error.ErrorData != nil {
		e.Details = er.Error.ErrorData.Details
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	retry := g.Retry
	if retry == nil {
		retry = Transient
	}
	e.Retryable = retry(resp.StatusCode, e.Code)
	if !e.Retryable {
		return e
	}
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	e.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), now())
	if g.MaxRetryAfter > 0 {
		e.RetryAfter = min(e.RetryAfter, g.MaxRetryAfter)
	}
	if e.RetryAfter == 0 && g.Hint != nil {
		e.RetryAfter = g.Hint(e.Code)
	}
	return e
}

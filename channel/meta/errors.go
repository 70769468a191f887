package meta

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is a failed Graph API call, as both channels report it. Callers
// branch on Retryable: a retryable error goes back to the send stage for
// a later attempt; any other marks the message failed with Code and Message.
type Error struct {
	// API names the channel in Error(): "whatsapp", "instagram".
	API        string
	HTTPStatus int    // 0 when no answer came (network error, timeout, cancelled)
	Code       int    // Graph error.code; 0 when the answer had none
	Subcode    int    // Graph error.error_subcode
	Type       string // Graph error.type, e.g. OAuthException
	Message    string // Graph error.message, or what went wrong locally
	Details    string // Graph error.error_data.details
	TraceID    string // Graph error.fbtrace_id, for Meta's support
	Retryable  bool
	// RetryAfter is the least wait before retrying: the server's
	// Retry-After, or the channel's guidance for the code. Zero leaves it
	// to the caller.
	RetryAfter time.Duration
	Err        error // the transport or context error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	api := e.API
	if api == "" {
		api = "meta"
	}
	b.WriteString(api + ": ")
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, "HTTP %d", e.HTTPStatus)
	} else {
		b.WriteString("no answer")
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, " code %d", e.Code)
	}
	if e.Subcode != 0 {
		fmt.Fprintf(&b, "/%d", e.Subcode)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Details != "" {
		b.WriteString(" (" + e.Details + ")")
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Graph error codes every Meta API shares, with a handling of their own.
const (
	CodeUnknown       = 1   // API unknown: temporary, retry
	CodeService       = 2   // API service: temporary, retry
	CodeTooManyCalls  = 4   // application request limit
	CodePermission    = 10  // permission (Instagram: also outside the window)
	CodeInvalidParam  = 100 // e.g. an unknown recipient
	CodeTokenInvalid  = 190 // expired or revoked access token (HTTP 401)
	CodePermissionAlt = 200 // permission
)

// Retryable reports whether err is an *Error worth retrying.
func Retryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// TokenRevoked reports whether err says the channel's access token expired
// or was revoked: no send can work until it is replaced.
func TokenRevoked(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == CodeTokenInvalid
}

// Transient is the retry decision for the codes every Meta API shares,
// falling back to the HTTP status for the others: 429 and 5xx retry, any
// other status is permanent. A channel decides its own codes first, then
// asks Transient (branch on error.code, not on the status).
func Transient(status, code int) bool {
	switch code {
	case CodeUnknown, CodeService, CodeTooManyCalls:
		return true
	case CodePermission, CodeInvalidParam, CodeTokenInvalid, CodePermissionAlt:
		return false
	}
	return status == http.StatusTooManyRequests || status >= 500
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP
// date, never below zero nor above 24 hours.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), 24*time.Hour)
}

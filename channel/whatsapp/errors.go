package whatsapp

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SendError is a failed Graph API call. Callers branch on Retryable: a
// retryable error goes back to the durable job for a later attempt (see
// RetryDelay); any other marks the message failed with Code and Message.
type SendError struct {
	HTTPStatus int    // 0 when no answer came (network error, timeout, cancelled)
	Code       int    // Graph error.code (§4); 0 when the answer had none
	Message    string // Graph error.message, or what went wrong locally
	Details    string // Graph error.error_data.details
	Retryable  bool
	// RetryAfter is the least wait before retrying: the server's Retry-After,
	// or the spec's guidance for the code (§4, §6). Zero leaves it to the caller.
	RetryAfter time.Duration
	Err        error // the transport or context error, if any
}

func (e *SendError) Error() string {
	var b strings.Builder
	b.WriteString("whatsapp: ")
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, "HTTP %d", e.HTTPStatus)
	} else {
		b.WriteString("no answer")
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, " code %d", e.Code)
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

func (e *SendError) Unwrap() error { return e.Err }

// Retryable reports whether err is a *SendError worth retrying. Validation
// errors and permanent Graph errors are not.
func Retryable(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Retryable
}

// Graph error codes with a handling of their own (§4).
const (
	CodeThroughput      = 130429 // per-number msg/s limit: back off, retry
	CodePairRateLimit   = 131056 // same user too often: retry with growing delay
	CodeReEngagement    = 131047 // >24 h since the user wrote: send a template
	CodeUndeliverable   = 131026 // not on WhatsApp, old client…: mark failed
	CodeMarketingLimit  = 131049 // per-user marketing limit: don't retry soon
	CodeSpamRateLimit   = 131048 // quality-based limit: stop, check quality
	CodeMediaError      = 131053 // media upload/download: retryable
	CodeMaintenance     = 131057 // e.g. throughput upgrade: retry after ~1 min
	CodeTemplateParams  = 132000 // template parameter count mismatch
	CodeTemplateMissing = 132001 // template name/language not approved
	CodeTemplatePaused  = 132015
	CodeTemplateOff     = 132016
	CodeTokenInvalid    = 190 // expired or invalid access token (HTTP 401)
	CodeInvalidParam    = 100
	CodeUnknown         = 131000 // unknown / service unavailable: retry
)

// classify decides retry by error.code first (§4: "branch on error.code, not
// HTTP status"), falling back to the status for unknown or missing codes:
// 429 and 5xx retry, any other 4xx is permanent.
func classify(status, code int) bool {
	switch code {
	// Throughput, pair and API-call rate limits, maintenance, media hiccups
	// and unknown or temporary server errors (§4, and courier's throttled set).
	case CodeThroughput, CodePairRateLimit, CodeMediaError, CodeMaintenance,
		CodeUnknown, 1, 2, 4, 80007, 133016:
		return true
	// Never retried, whatever the HTTP status says: the request, the
	// recipient, the template or the token must change first.
	case CodeUndeliverable, CodeReEngagement, CodeMarketingLimit, CodeSpamRateLimit,
		CodeTemplateParams, CodeTemplateMissing, CodeTemplatePaused, CodeTemplateOff,
		CodeTokenInvalid, CodeInvalidParam, 131008, 131009, 10, 200:
		return false
	}
	return status == http.StatusTooManyRequests || status >= 500
}

// codeHint is the spec's suggested wait for codes that come with one.
func codeHint(code int) time.Duration {
	switch code {
	case CodePairRateLimit:
		return 6 * time.Second // about one message per 6 s to the same user (§6)
	case CodeMaintenance:
		return time.Minute
	}
	return 0
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
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

// RetryDelay suggests how long a durable job waits before retry number
// attempt (1 for the first retry) of a send that failed with err: doubling
// from 1 s (from 6 s for the pair rate limit), capped at 15 minutes, and
// never less than the error's RetryAfter. Meta's own advice (§4) is "back
// off and retry"; the client never loops itself.
func RetryDelay(err error, attempt int) time.Duration {
	const maxDelay = 15 * time.Minute
	base := time.Second
	var se *SendError
	if errors.As(err, &se) && se.Code == CodePairRateLimit {
		base = 6 * time.Second
	}
	d := maxDelay
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 20 {
		d = min(base<<(attempt-1), maxDelay)
	}
	if se != nil && se.RetryAfter > d {
		d = se.RetryAfter
	}
	return d
}

package whatsapp

import (
	"errors"
	"time"

	"github.com/parleyhq/parley/channel/meta"
)

// SendError is a failed Graph API call (package meta's Error, with API
// "whatsapp"). Callers branch on Retryable: a retryable error goes back to
// the durable job for a later attempt (see RetryDelay); any other marks the
// message failed with Code and Message.
type SendError = meta.Error

// Retryable reports whether err is a *SendError worth retrying. Validation
// errors and permanent Graph errors are not.
func Retryable(err error) bool { return meta.Retryable(err) }

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
	CodeTokenInvalid    = meta.CodeTokenInvalid // expired or invalid access token (HTTP 401)
	CodeInvalidParam    = meta.CodeInvalidParam
	CodeUnknown         = 131000 // unknown / service unavailable: retry
)

// classify decides retry by error.code first (§4: "branch on error.code, not
// HTTP status"), then as every Meta API (meta.Transient): 429 and 5xx
// retry, any other 4xx is permanent.
func classify(status, code int) bool {
	switch code {
	// Throughput and pair rate limits, maintenance, media hiccups and
	// unknown or temporary server errors (§4, and courier's throttled set).
	case CodeThroughput, CodePairRateLimit, CodeMediaError, CodeMaintenance,
		CodeUnknown, 80007, 133016:
		return true
	// Never retried, whatever the HTTP status says: the request, the
	// recipient or the template must change first.
	case CodeUndeliverable, CodeReEngagement, CodeMarketingLimit, CodeSpamRateLimit,
		CodeTemplateParams, CodeTemplateMissing, CodeTemplatePaused, CodeTemplateOff,
		131008, 131009:
		return false
	}
	return meta.Transient(status, code)
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

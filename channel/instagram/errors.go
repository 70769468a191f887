package instagram

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// SendError is a failed Graph API call (§5). Retryable says whether the
// send stage should try again later; any other error marks the message
// failed with its code and message.
type SendError struct {
	HTTPStatus int    // 0 when no answer came
	Code       int    // Graph error.code; 0 when the answer had none
	Subcode    int    // Graph error.error_subcode
	Message    string // Graph error.message, or what went wrong locally
	Retryable  bool
	// RetryAfter is the least wait before retrying, when known.
	RetryAfter time.Duration
	Err        error // the transport or context error, if any
}

func (e *SendError) Error() string {
	var b strings.Builder
	b.WriteString("instagram: ")
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
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *SendError) Unwrap() error { return e.Err }

// Graph error codes with a handling of their own (§5).
const (
	CodeTokenInvalid   = 190     // expired or revoked token: the channel needs a new one
	CodePermission     = 10      // permission, or outside the messaging window
	CodePermissionAlt  = 200     // permission
	CodeRateLimit      = 4       // application request limit
	CodeUserRateLimit  = 613     // calls per user
	CodePageRateLimit  = 32      // page-level limit
	CodeInvalidParam   = 100     // e.g. unknown recipient
	CodeUnavailable    = 551     // the person is not available
	SubcodeOutOfWindow = 2018278 // "sent outside of allowed window" (§4, unverified for every version)
)

// OutsideWindow reports whether err is Meta refusing a send outside the
// messaging window (§4).
func OutsideWindow(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.outsideWindow()
}

func (e *SendError) outsideWindow() bool {
	if e.Subcode == SubcodeOutOfWindow {
		return true
	}
	return e.Code == CodePermission && strings.Contains(strings.ToLower(e.Message), "outside of allowed window")
}

// TokenRevoked reports whether err says the channel's access token expired
// or was revoked (§5): no send can work until it is replaced.
func TokenRevoked(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Code == CodeTokenInvalid
}

// Retryable reports whether err is a *SendError worth retrying.
func Retryable(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Retryable
}

// retryable decides by error.code first, then by HTTP status: rate limits,
// temporary errors, 429 and 5xx are tried again; permissions, the window,
// a bad recipient and a dead token are not.
func retryable(status, code int) bool {
	switch code {
	case CodeRateLimit, CodeUserRateLimit, CodePageRateLimit, 1, 2:
		return true
	case CodeTokenInvalid, CodePermission, CodePermissionAlt, CodeInvalidParam, CodeUnavailable:
		return false
	}
	return status == http.StatusTooManyRequests || status >= 500
}

// rateHint is the least wait after a rate-limit code: Meta counts these
// limits over minutes to an hour, so a retry in a second only burns quota.
func rateHint(code int) time.Duration {
	switch code {
	case CodeRateLimit, CodeUserRateLimit, CodePageRateLimit:
		return time.Minute
	}
	return 0
}

package instagram

import (
	"errors"
	"strings"
	"time"

	"github.com/parleyhq/parley/channel/meta"
)

// SendError is a failed Graph API call (§5): package meta's Error, with
// API "instagram". Retryable says whether the send stage should try again
// later; any other error marks the message failed with its code and message.
type SendError = meta.Error

// Graph error codes with a handling of their own (§5).
const (
	CodeTokenInvalid   = meta.CodeTokenInvalid  // expired or revoked token: the channel needs a new one
	CodePermission     = meta.CodePermission    // permission, or outside the messaging window
	CodePermissionAlt  = meta.CodePermissionAlt // permission
	CodeRateLimit      = meta.CodeTooManyCalls  // application request limit
	CodeUserRateLimit  = 613                    // calls per user
	CodePageRateLimit  = 32                     // page-level limit
	CodeInvalidParam   = meta.CodeInvalidParam  // e.g. unknown recipient
	CodeUnavailable    = 551                    // the person is not available
	SubcodeOutOfWindow = 2018278                // "sent outside of allowed window" (§4, unverified for every version)
)

// OutsideWindow reports whether err is Meta refusing a send outside the
// messaging window (§4).
func OutsideWindow(err error) bool {
	var se *SendError
	return errors.As(err, &se) && outsideWindow(se)
}

func outsideWindow(e *SendError) bool {
	if e.Subcode == SubcodeOutOfWindow {
		return true
	}
	return e.Code == CodePermission && strings.Contains(strings.ToLower(e.Message), "outside of allowed window")
}

// TokenRevoked reports whether err says the channel's access token expired
// or was revoked (§5): no send can work until it is replaced.
func TokenRevoked(err error) bool { return meta.TokenRevoked(err) }

// Retryable reports whether err is a *SendError worth retrying.
func Retryable(err error) bool { return meta.Retryable(err) }

// retryable decides by error.code first, then as every Meta API
// (meta.Transient): rate limits, temporary errors, 429 and 5xx are tried
// again; permissions, the window, a bad recipient and a dead token are not.
func retryable(status, code int) bool {
	switch code {
	case CodeUserRateLimit, CodePageRateLimit:
		return true
	case CodeUnavailable:
		return false
	}
	return meta.Transient(status, code)
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

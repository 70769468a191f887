package twilio

import (
	"errors"
	"fmt"
	"time"

	"github.com/parleyhq/parley"
)

// Sentinels a *ParseError wraps, for callers that branch with errors.Is.
var (
	ErrMissingField = errors.New("missing field")
	ErrInvalidField = errors.New("invalid field")
)

// ParseError says which webhook field made a payload unusable. It names the
// field but never quotes its value: values are customers' numbers and words.
type ParseError struct {
	Field string
	Err   error // ErrMissingField or ErrInvalidField
	cause error // e.g. the phone number's own error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("twilio webhook: %s: %v", e.Field, e.Err)
}

// Unwrap exposes the sentinel, an invalid_request *parley.Error (so a web
// layer answers 400) and the cause, if any.
func (e *ParseError) Unwrap() []error {
	errs := []error{e.Err, &parley.Error{Code: parley.CodeInvalid, Field: e.Field, Message: e.Err.Error()}}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

func missing(field string) error { return &ParseError{Field: field, Err: ErrMissingField} }

func invalid(field string, cause error) error {
	return &ParseError{Field: field, Err: ErrInvalidField, cause: cause}
}

// Twilio error codes the sender and its callers care about (§4).
const (
	CodeAuthenticationFailed = 20003
	CodeTooManyRequests      = 20429
	CodeInvalidTo            = 21211
	CodeOutsideWindow        = 63016 // free-form outside the 24 h window: send a template
	CodeChannelRateLimit     = 63018
	CodeInvalidRecipient     = 63024
	CodeMarketingNotSent     = 63049 // Meta chose not to deliver a marketing message
)

// SendError is a failed send, classified so that a durable job knows what
// to do: retry later (Retryable, after RetryAfter when Twilio said so) or
// give up. Err, when set, is the cause: the network error, or a domain
// error such as parley.ErrOutsideWindow for code 63016.
type SendError struct {
	HTTPStatus int           // 0 when no response came back
	Code       int           // Twilio's error code, 0 if none was given
	Message    string        // Twilio's message, or what went wrong
	Retryable  bool          // worth trying again later
	RetryAfter time.Duration // from Retry-After; 0 means the caller's own backoff
	Err        error
}

func (e *SendError) Error() string {
	switch {
	case e.HTTPStatus == 0:
		return "twilio send: " + e.Message
	case e.Code != 0:
		return fmt.Sprintf("twilio send: HTTP %d, code %d: %s", e.HTTPStatus, e.Code, e.Message)
	}
	return fmt.Sprintf("twilio send: HTTP %d: %s", e.HTTPStatus, e.Message)
}

func (e *SendError) Unwrap() error { return e.Err }

// retryable says whether a Twilio answer is worth repeating: throttling and
// Twilio's own failures pass; a request Twilio refused will be refused again.
func retryable(httpStatus, code int) bool {
	switch {
	case httpStatus == 429, httpStatus >= 500:
		return true
	case code == CodeTooManyRequests, code == CodeChannelRateLimit:
		return true
	}
	return false
}

// domainError maps the codes the rest of Parley branches on to its errors.
func domainError(httpStatus, code int, msg string) error {
	switch {
	case code == CodeOutsideWindow:
		return parley.ErrOutsideWindow
	case code == CodeAuthenticationFailed, httpStatus == 401:
		return parley.Errorf(parley.CodeUnauthorized, "twilio rejected the channel's credentials")
	case retryable(httpStatus, code) && httpStatus < 500:
		return parley.Errorf(parley.CodeRateLimited, "twilio rate limit")
	case code == CodeInvalidTo, code == CodeInvalidRecipient:
		return parley.FieldError("to", "%s", msg)
	}
	return nil
}

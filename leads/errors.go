// Package leads writes and delivers lead sequences (the original product's
// "lead follow-up"; not conversation follow-ups, package followup): the
// `POST /api/agents/sales/leadFollowUp` call, where a sales persona writes
// per-channel content and a copywriter persona refines it (or a
// deterministic composer without an LLM), and the sequences that send it
// over e-mail, WhatsApp, in-app notifications and web banners until the
// lead replies.
package leads

import (
	"errors"
	"net/http"
)

// The follow-up call's error codes. The first ten are the ones the
// original API defined (README, "Lead sequences", lists them all); the
// *_NOT_FOUND codes name lookups that failed.
const (
	CodeInvalidRequest       = "INVALID_REQUEST"
	CodeInvalidInput         = "INVALID_INPUT"
	CodeInvalidPhoneNumber   = "INVALID_PHONE_NUMBER"
	CodeAgentNotFound        = "AGENT_NOT_FOUND"
	CodeNoChannelsConfigured = "NO_CHANNELS_CONFIGURED"
	CodeNoValidChannelsLead  = "NO_VALID_CHANNELS_FOR_LEAD"
	CodeSalesCommandFailed   = "SALES_COMMAND_FAILED"
	CodeNoContentGenerated   = "NO_CONTENT_GENERATED"
	CodeNoValidChannels      = "NO_VALID_CHANNELS"
	CodeSystemError          = "SYSTEM_ERROR"
	CodeSiteNotFound         = "SITE_NOT_FOUND"
	CodeLeadNotFound         = "LEAD_NOT_FOUND"
	CodeVisitorNotFound      = "VISITOR_NOT_FOUND"
	CodeUnauthorized         = "UNAUTHORIZED"
	CodeRequestTooLarge      = "REQUEST_TOO_LARGE"
)

// statusOf is the one table from the call's error codes to HTTP statuses.
var statusOf = map[string]int{
	CodeInvalidRequest:       http.StatusBadRequest,
	CodeInvalidInput:         http.StatusBadRequest,
	CodeInvalidPhoneNumber:   http.StatusBadRequest,
	CodeUnauthorized:         http.StatusUnauthorized,
	CodeSiteNotFound:         http.StatusNotFound,
	CodeLeadNotFound:         http.StatusNotFound,
	CodeVisitorNotFound:      http.StatusNotFound,
	CodeAgentNotFound:        http.StatusNotFound,
	CodeRequestTooLarge:      http.StatusRequestEntityTooLarge,
	CodeNoChannelsConfigured: http.StatusUnprocessableEntity,
	CodeNoValidChannelsLead:  http.StatusUnprocessableEntity,
	CodeNoValidChannels:      http.StatusUnprocessableEntity,
	CodeSalesCommandFailed:   http.StatusBadGateway,
	CodeNoContentGenerated:   http.StatusBadGateway,
	CodeSystemError:          http.StatusInternalServerError,
}

// Error is a failed follow-up call: a code from the contract, a message for
// the caller, and (never shown) the internal cause.
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Status is the HTTP status the code is answered with.
func (e *Error) Status() int {
	if s, ok := statusOf[e.Code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

func fail(code, message string) *Error { return &Error{Code: code, Message: message} }

// asError turns any error into the call's error; anything unexpected is a
// SYSTEM_ERROR whose cause is kept for the log only.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeSystemError, Message: "internal error", Err: err}
}

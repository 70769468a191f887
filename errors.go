package parley

import (
	"errors"
	"fmt"
)

// Code is a machine-readable error code, returned by the API as error.code.
type Code string

const (
	CodeInvalid      Code = "invalid_request"   // malformed input (bad JSON, wrong type)
	CodeValidation   Code = "validation_failed" // well-formed input that breaks a rule
	CodeNotFound     Code = "not_found"
	CodeConflict     Code = "conflict"
	CodeUnauthorized Code = "unauthorized"
	CodeForbidden    Code = "forbidden"
	CodeRateLimited  Code = "rate_limited"
	CodeTooLarge     Code = "payload_too_large"
	CodeInternal     Code = "internal"
)

// Error is a domain error with a code the caller can branch on. Field names
// the offending input field, when there is one.
type Error struct {
	Code    Code
	Message string
	Field   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// Errorf makes an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError makes a validation error that names the field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: CodeValidation, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrNotFound is returned (wrapped) when an object does not exist for the tenant.
var ErrNotFound = &Error{Code: CodeNotFound, Message: "not found"}

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal for any other error (and "" for nil).
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the user-facing message of err: the *Error's message,
// or a generic one so internals never leak.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return "internal error"
}

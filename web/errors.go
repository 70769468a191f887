package web

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley"
)

// ErrorBody is every API error: {"error": {"code", "message", "field"?, "details"?}}.
type ErrorBody struct {
	Err ErrorDetail `json:"error"`

	status int
}

// ErrorDetail is the inside of an API error.
type ErrorDetail struct {
	Code    parley.Code   `json:"code" doc:"Machine-readable error code"`
	Message string        `json:"message"`
	Field   string        `json:"field,omitempty" doc:"The input field at fault, when there is one"`
	Details []FieldDetail `json:"details,omitempty"`
}

// FieldDetail is one problem with one input field.
type FieldDetail struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *ErrorBody) Error() string  { return e.Err.Message }
func (e *ErrorBody) GetStatus() int { return e.status }

// statusOf is the one table from domain error code to HTTP status.
var statusOf = map[parley.Code]int{
	parley.CodeInvalid:      http.StatusBadRequest,
	parley.CodeValidation:   http.StatusUnprocessableEntity,
	parley.CodeNotFound:     http.StatusNotFound,
	parley.CodeConflict:     http.StatusConflict,
	parley.CodeUnauthorized: http.StatusUnauthorized,
	parley.CodeForbidden:    http.StatusForbidden,
	parley.CodeRateLimited:  http.StatusTooManyRequests,
	parley.CodeTooLarge:     http.StatusRequestEntityTooLarge,
	parley.CodeInternal:     http.StatusInternalServerError,
}

// codeOf maps a status that huma produced on its own (bad JSON, schema
// validation, body too large) back to a domain code.
func codeOf(status int) parley.Code {
	for code, s := range statusOf {
		if s == status {
			return code
		}
	}
	if status >= 500 {
		return parley.CodeInternal
	}
	return parley.CodeInvalid
}

// apiError turns a domain error into the API's error, hiding internals.
func apiError(err error) error {
	if err == nil {
		return nil
	}
	var withHeaders huma.HeadersError
	if errors.As(err, &withHeaders) {
		return err // already an API error, with headers (Retry-After) to keep
	}
	var body *ErrorBody
	if errors.As(err, &body) {
		return body
	}
	code := parley.ErrorCode(err)
	status, ok := statusOf[code]
	if code == parley.CodeAlreadyAnswered {
		status, ok = http.StatusConflict, true
	}
	if !ok {
		status = http.StatusBadRequest // a feature-specific code such as already_answered
	}
	var pe *parley.Error
	out := &ErrorBody{status: status, Err: ErrorDetail{Code: code, Message: parley.ErrorMessage(err)}}
	if errors.As(err, &pe) {
		out.Err.Message, out.Err.Field = pe.Message, pe.Field
	}
	return out
}

var installErrors sync.Once

var requiredProperty = regexp.MustCompile(`required property (\S+) to be present`)

// useErrorModel makes huma write its own errors (bad JSON, failed schema
// validation, oversized bodies) in Parley's error shape. huma exposes this
// only as a package variable, so it is set once per process.
func useErrorModel() {
	installErrors.Do(func() {
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			if status == http.StatusUnsupportedMediaType {
				// The README's contract: a body that is not declared JSON is
				// malformed input like a body that is not JSON (400), and the
				// message says what to send rather than naming no field.
				got := "none"
				for _, e := range errs {
					if e != nil {
						got = strings.TrimPrefix(e.Error(), "unknown content type: ")
						got = got[:min(len(got), 100)]
					}
				}
				return &ErrorBody{status: http.StatusBadRequest, Err: ErrorDetail{Code: parley.CodeInvalid,
					Message: "the body must be JSON: send Content-Type: application/json (got " + got + ")"}}
			}
			out := &ErrorBody{status: status, Err: ErrorDetail{Code: codeOf(status), Message: msg}}
			if status == http.StatusUnprocessableEntity && strings.Contains(msg, "unmarshal") {
				// A body that is not valid JSON is malformed, not a rule broken.
				out.status, out.Err.Code = http.StatusBadRequest, parley.CodeInvalid
			}
			for _, e := range errs {
				var d *huma.ErrorDetail
				if errors.As(e, &d) {
					field := strings.TrimPrefix(strings.TrimPrefix(d.Location, "body."), "body")
					if m := requiredProperty.FindStringSubmatch(d.Message); m != nil {
						// huma reports a missing property at its parent; name the property.
						field = strings.TrimPrefix(field+"."+m[1], ".")
					}
					out.Err.Details = append(out.Err.Details, FieldDetail{Field: field, Message: d.Message})
				} else if e != nil {
					out.Err.Details = append(out.Err.Details, FieldDetail{Message: e.Error()})
				}
			}
			if len(out.Err.Details) > 0 {
				out.Err.Field = out.Err.Details[0].Field
				if out.Err.Message == "validation failed" && out.Err.Details[0].Message != "" {
					out.Err.Message = "validation failed: " + strings.TrimPrefix(out.Err.Field+" ", " ") + out.Err.Details[0].Message
				}
			}
			return out
		}
	})
}

package llm

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The three ways a call can fail after the client has done all it will do.
// Every error Complete returns (other than the caller's own context ending)
// is an *Error whose Kind is one of these, so callers branch with errors.Is.
var (
	// ErrPermanent: retrying the same request cannot help (bad key, unknown
	// model, invalid request, quota exhausted). Someone has to fix something.
	ErrPermanent = errors.New("llm: permanent failure")
	// ErrUnavailable: transient faults (429, 5xx, timeouts, dropped
	// connections) outlasted every attempt. Trying again later may work.
	ErrUnavailable = errors.New("llm: unavailable")
	// ErrInvalidOutput: the server answered, but every attempt produced output
	// that could not be used (malformed JSON, schema violation, truncated,
	// refused, empty).
	ErrInvalidOutput = errors.New("llm: invalid output")
)

// ErrBudgetReached is in the chain of an error from a call that Config.Meter
// refused: the tenant has spent its token budget for the month. Its Kind is
// ErrPermanent (retrying this month cannot help), so callers that do not
// look for it take their usual no-LLM path.
var ErrBudgetReached = errors.New("llm: the tenant's token budget is reached")

// ErrTimeout is in the chain of an error caused by an attempt outlasting
// Config.Timeout (its Kind is ErrUnavailable).
var ErrTimeout = errors.New("llm: attempt timed out")

// Error describes a failed call: its kind, how many attempts were made and
// the last cause.
type Error struct {
	Kind       error         // ErrPermanent, ErrUnavailable or ErrInvalidOutput
	Attempts   int           // requests made, including the first
	StatusCode int           // HTTP status of the last answer, 0 if none came
	RetryAfter time.Duration // the server's last requested wait, if it gave one
	Err        error         // the last cause
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	fmt.Fprintf(&b, " after %d attempt", e.Attempts)
	if e.Attempts != 1 {
		b.WriteString("s")
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrPermanent) and friends work.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap exposes the last cause (e.g. ErrTimeout, context.DeadlineExceeded).
func (e *Error) Unwrap() error { return e.Err }

// outputError is a usable-looking answer that is not usable. repair says
// whether showing the model its mistake may help the next attempt.
type outputError struct {
	reason  string
	content string
	repair  bool
}

func (e *outputError) Error() string { return e.reason }

func invalidOutput(content string, repair bool, format string, args ...any) *outputError {
	return &outputError{reason: fmt.Sprintf(format, args...), content: content, repair: repair}
}

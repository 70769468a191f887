package whatsapptest

import (
	"fmt"
	"net/http"
	"time"

	"github.com/parleyhq/parley/channel/meta/metatest"
)

// Response is a scripted answer to one valid send (see FakeGraph.Script).
// Build it with the helpers below or by hand.
type Response struct {
	Status     int    // HTTP status
	Code       int    // Graph error.code; 0 sends a body without one
	Message    string // error.message
	Details    string // error.error_data.details
	RetryAfter string // Retry-After header, if any
	// Hang holds the request until Release, Close or the client gives up,
	// then carries on as a normal send (recorded only if the client is
	// still there).
	Hang bool
	Drop bool // close the connection without answering
	// Delay holds the request this long, then carries on as a normal send
	// (recorded only if the client is still there): a slow Graph API.
	Delay time.Duration
}

// graphMessage is the Graph error.message for the codes of §4.
func graphMessage(code int) string {
	switch code {
	case 130429:
		return "(#130429) Rate limit hit"
	case 131056:
		return "(#131056) (Business Account, Consumer Account) pair rate limit hit"
	case 131047:
		return "Re-engagement message"
	case 131026:
		return "Message Undeliverable"
	case 131057:
		return "(#131057) Account in maintenance mode"
	case 132000:
		return "(#132000) Number of parameters does not match the expected number of params"
	case 132001:
		return "(#132001) Template name does not exist in the translation"
	case 190:
		return "Error validating access token: Session has expired"
	case 131000:
		return "Something went wrong"
	}
	return fmt.Sprintf("(#%d) Error", code)
}

// ErrorCode answers with Graph error code, at the HTTP status Meta uses for
// it: 401 for token errors, 500 for unknown/service errors, 400 otherwise.
func ErrorCode(code int) Response {
	status := http.StatusBadRequest
	switch code {
	case 190, 0:
		status = http.StatusUnauthorized
	case 131000, 1, 2:
		status = http.StatusInternalServerError
	}
	r := Response{Status: status, Code: code, Message: graphMessage(code)}
	switch code {
	case 131056:
		r.Details = "Too many messages to the same user in a short period."
	case 131047:
		r.Details = "More than 24 hours since the customer last replied."
	}
	return r
}

// RateLimited answers HTTP 429 with error 130429 and, when retryAfter is not
// empty, a Retry-After header.
func RateLimited(retryAfter string) Response {
	r := ErrorCode(130429)
	r.Status = http.StatusTooManyRequests
	r.RetryAfter = retryAfter
	return r
}

// ServerError answers status (e.g. 500, 503) with a body that is not Graph
// JSON, as a proxy in front of the API would.
func ServerError(status int) Response {
	return Response{Status: status}
}

// Hang holds the request until released (see Response.Hang).
func Hang() Response { return Response{Hang: true} }

// Drop closes the connection without an answer.
func Drop() Response { return Response{Drop: true} }

// Slow answers after d, as a normal send (see Response.Delay).
func Slow(d time.Duration) Response { return Response{Delay: d} }

// act plays a scripted response. It reports whether the request is done;
// false means carry on as a normal send (after a released hang).
func (f *FakeGraph) act(w http.ResponseWriter, r *http.Request, resp Response) bool {
	switch {
	case resp.Delay > 0:
		t := time.NewTimer(resp.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-f.closed:
		}
		return r.Context().Err() != nil
	case resp.Hang:
		f.mu.Lock()
		f.hanging++
		release := f.release
		f.notify()
		f.mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		case <-f.closed:
		}
		f.mu.Lock()
		f.hanging--
		f.notify()
		f.mu.Unlock()
		return r.Context().Err() != nil
	case resp.Drop:
		metatest.Drop(w)
		return true
	}
	if resp.RetryAfter != "" {
		w.Header().Set("Retry-After", resp.RetryAfter)
	}
	if resp.Code == 0 && resp.Message == "" {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(resp.Status)
		_, _ = fmt.Fprintf(w, "<html><body>%d %s</body></html>", resp.Status, http.StatusText(resp.Status))
		return true
	}
	writeError(w, resp.Status, resp.Code, resp.Message, resp.Details)
	return true
}

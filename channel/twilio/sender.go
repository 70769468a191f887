package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/clock"
)

// DefaultBaseURL is Twilio's REST API.
const DefaultBaseURL = "https://api.twilio.com"

// DefaultTimeout bounds one send when the Client brings no *http.Client.
const DefaultTimeout = 15 * time.Second

// maxBody caps how much of Twilio's answer is read; a Message resource is
// about a kilobyte.
const maxBody = 1 << 20

// maxBodyChars is the Messages API's limit on Body (§4).
const maxBodyChars = 1600

// Client sends messages through Twilio's Messages API (§4). The zero value
// is usable. It tries each send once: retrying is the caller's (a durable
// job's) business, guided by *SendError.
type Client struct {
	BaseURL string       // default DefaultBaseURL; a fake's URL in tests
	HTTP    *http.Client // default: a client with DefaultTimeout
	Clock   clock.Clock  // reads an HTTP-date Retry-After; default clock.Real
}

// NewClient returns a Client for baseURL ("" for Twilio's) with a timeout.
func NewClient(baseURL string, timeout time.Duration) *Client {
	return &Client{BaseURL: baseURL, HTTP: &http.Client{Timeout: timeout}}
}

// Outbound is what to send: free-form Body (inside the 24 h window), or an
// approved Content template (ContentSID, "HX…") with its variables.
type Outbound struct {
	Body             string
	MediaURL         string            // optional public media URL, with Body as caption
	ContentSID       string            // a Content API template; excludes Body and MediaURL
	ContentVariables map[string]string // placeholder name ("1", "2"…) to value
	StatusCallback   string            // where Twilio posts this message's statuses
}

// form checks o and encodes it with the addresses (§4).
func (o Outbound) form(from, to string) (url.Values, error) {
	f := url.Values{}
	switch {
	case o.ContentSID != "" && (o.Body != "" || o.MediaURL != ""):
		return nil, parley.FieldError("content_sid", "a template cannot carry a body or media")
	case o.ContentSID == "" && len(o.ContentVariables) > 0:
		return nil, parley.FieldError("content_variables", "variables need a template")
	case o.ContentSID == "" && o.Body == "" && o.MediaURL == "":
		return nil, parley.FieldError("body", "a message needs a body, media or a template")
	case len([]rune(o.Body)) > maxBodyChars:
		return nil, parley.FieldError("body", "longer than %d characters", maxBodyChars)
	}
	if o.ContentSID != "" {
		f.Set(FieldContentSid, o.ContentSID)
		if len(o.ContentVariables) > 0 {
			vars, err := json.Marshal(o.ContentVariables) // a JSON string field, §4
			if err != nil {
				return nil, parley.FieldError("content_variables", "%v", err)
			}
			f.Set(FieldContentVariables, string(vars))
		}
	}
	if o.Body != "" {
		f.Set(FieldBody, o.Body)
	}
	if o.MediaURL != "" {
		f.Set(FieldMediaURL, o.MediaURL)
	}
	if o.StatusCallback != "" {
		f.Set(FieldStatusCallback, o.StatusCallback)
	}
	if to == "" {
		return nil, parley.FieldError("to", "required")
	}
	f.Set(FieldTo, whatsappAddress(to))
	switch {
	case from == "":
		return nil, parley.FieldError("from", "required")
	case strings.HasPrefix(from, "MG"): // a Messaging Service picks the sender
		f.Set(FieldMessagingServiceSid, from)
	default:
		f.Set(FieldFrom, whatsappAddress(from))
	}
	return f, nil
}

// whatsappAddress turns "+5511…" into "whatsapp:+5511…", leaving an
// address that already has the prefix alone.
func whatsappAddress(n string) string {
	if strings.HasPrefix(strings.ToLower(n), AddressPrefix) {
		return n
	}
	return AddressPrefix + n
}

// Send posts m from our sender (E.164, "whatsapp:…", or a Messaging
// Service "MG…") to a contact (E.164) and returns the message's sid, the
// key its status callbacks will carry. A 201 means Twilio accepted the
// message, not that it was delivered. Every failure is a *SendError; a
// network error after the request left may have created the message, so a
// retry can duplicate it (the Messages API has no idempotency key).
func (c *Client) Send(ctx context.Context, accountSID, authToken, from, to string, m Outbound) (string, error) {
	if accountSID == "" || authToken == "" {
		return "", &SendError{Message: "missing account credentials",
			Err: parley.Errorf(parley.CodeUnauthorized, "twilio channel has no credentials")}
	}
	form, err := m.form(from, to)
	if err != nil {
		return "", &SendError{Message: err.Error(), Err: err}
	}
	endpoint := c.baseURL() + "/2010-04-01/Accounts/" + url.PathEscape(accountSID) + "/Messages.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", &SendError{Message: "bad base URL", Err: err}
	}
	req.SetBasicAuth(accountSID, authToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	resp, err := c.httpClient().Do(req)
	if err != nil {
		// Includes timeouts and cancellation; the job decides whether its
		// own context still allows another go.
		return "", &SendError{Message: "request failed: " + redact(err, authToken), Retryable: true, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil && resp.StatusCode >= 300 {
		return "", &SendError{HTTPStatus: resp.StatusCode, Message: "reading the answer: " + err.Error(),
			Retryable: true, Err: err}
	}

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		var msg apiMessage
		if err := json.Unmarshal(body, &msg); err != nil || msg.SID == "" {
			// Twilio took the message; repeating could send it twice.
			return "", &SendError{HTTPStatus: resp.StatusCode, Message: "accepted, but the answer has no sid"}
		}
		return msg.SID, nil
	}
	return "", c.failure(resp, body)
}

// failure classifies a non-2xx answer (§4 error table).
func (c *Client) failure(resp *http.Response, body []byte) *SendError {
	se := &SendError{HTTPStatus: resp.StatusCode}
	var ae apiError
	if json.Unmarshal(body, &ae) == nil && (ae.Code != 0 || ae.Message != "") {
		se.Code, se.Message = ae.Code, ae.Message
	} else {
		se.Message = http.StatusText(resp.StatusCode) // e.g. a proxy's HTML page
	}
	se.Retryable = retryable(se.HTTPStatus, se.Code)
	if se.Retryable {
		se.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), c.now())
	}
	se.Err = domainError(se.HTTPStatus, se.Code, se.Message)
	return se
}

// retryAfter reads Retry-After as seconds or an HTTP date; 0 when absent
// or unreadable, leaving the wait to the caller's backoff.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// redact keeps the auth token out of an error that may be logged, in case
// a transport ever echoes the request.
func redact(err error, token string) string {
	return strings.ReplaceAll(err.Error(), token, "[redacted]")
}

func (c *Client) baseURL() string {
	if c.BaseURL == "" {
		return DefaultBaseURL
	}
	return strings.TrimRight(c.BaseURL, "/")
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP == nil {
		return &http.Client{Timeout: DefaultTimeout}
	}
	return c.HTTP
}

func (c *Client) now() time.Time {
	if c.Clock == nil {
		return clock.Real{}.Now()
	}
	return c.Clock.Now()
}

// IsRetryable reports whether err is a *SendError worth retrying.
func IsRetryable(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Retryable
}

// Package twiliotest is a fake Twilio Messages API on loopback and helpers
// that build signed webhooks, for tests and for the load generator. The
// fake checks each request as strictly as Twilio's Messages API
// documentation (§4 in package twilio's section marks) allows, stricter than
// Twilio where that catches a sender's mistake.
package twiliotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/clock"
)

// Message is a send the fake accepted, as Twilio would have stored it.
type Message struct {
	SID                 string
	AccountSID          string
	From                string // as sent, "whatsapp:+…"; empty with a Messaging Service
	To                  string // as sent, "whatsapp:+…"
	MessagingServiceSID string
	Body                string
	MediaURLs           []string
	ContentSID          string
	ContentVariables    map[string]string // decoded from the JSON string
	StatusCallback      string
	Status              string // "queued", or "accepted" with a Messaging Service
	CreatedAt           time.Time
	Form                url.Values // the whole request body
}

// Failure is a scripted error answer. Code 0 leaves it out of the body;
// Body, when set, replaces Twilio's JSON (e.g. a proxy's HTML page).
type Failure struct {
	Status     int
	Code       int
	Message    string
	RetryAfter string // the Retry-After header, "" for none
	Body       string
}

// TooManyRequests is Twilio's 429 (code 20429); retryAfter may be "".
func TooManyRequests(retryAfter string) Failure {
	return Failure{Status: http.StatusTooManyRequests, Code: 20429, Message: "Too Many Requests", RetryAfter: retryAfter}
}

// ServerError is a Twilio-side failure with the given 5xx status.
func ServerError(status int) Failure {
	return Failure{Status: status, Code: 20500, Message: "An internal server error has occurred"}
}

// OutsideWindow is error 63016: free-form text outside the 24 h window.
func OutsideWindow() Failure {
	return Failure{Status: http.StatusBadRequest, Code: 63016,
		Message: "Failed to send freeform message because you are outside the allowed window. Please use a Template."}
}

// Server is the fake Messages API. Its methods are safe for concurrent use.
type Server struct {
	URL string // base URL for twilio.Client.BaseURL

	srv   *httptest.Server
	clock clock.Clock
	base  string // random per server, so SIDs differ across fakes

	mu       sync.Mutex
	accounts map[string]string // AccountSid → AuthToken
	messages []Message
	next     []Failure
	rules    []rule
	requests int
	seq      uint64
	changed  chan struct{} // closed and replaced when a message is accepted
}

type rule struct {
	match func(Message) bool
	fail  Failure
}

// New starts a fake on 127.0.0.1 with the wall clock. Close it when done.
func New() *Server { return NewWithClock(clock.Real{}) }

// NewWithClock starts a fake whose messages are dated by c.
func NewWithClock(c clock.Clock) *Server {
	s := &Server{
		clock:    c,
		base:     randomHex(8),
		accounts: map[string]string{},
		changed:  make(chan struct{}),
	}
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// AddAccount lets accountSID authenticate with authToken.
func (s *Server) AddAccount(accountSID, authToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[accountSID] = authToken
}

// FailNext queues failures answered, in order, to the next valid sends
// (invalid requests are refused as Twilio would and consume none).
func (s *Server) FailNext(fs ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next = append(s.next, fs...)
}

// FailWhen answers f to every valid send that match accepts, e.g. all
// sends to one number; queued FailNext failures come first.
func (s *Server) FailWhen(match func(Message) bool, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, rule{match, f})
}

// Messages returns a copy of the accepted messages, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Requests counts every request received, refused or not.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// WaitForMessages blocks until at least n messages were accepted and
// returns them, or returns ctx's error with those accepted so far.
func (s *Server) WaitForMessages(ctx context.Context, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		got, changed := append([]Message(nil), s.messages...), s.changed
		s.mu.Unlock()
		if len(got) >= n {
			return got, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return got, fmt.Errorf("twiliotest: %d of %d messages: %w", len(got), n, ctx.Err())
		}
	}
}

// ServeHTTP answers like POST /2010-04-01/Accounts/{AccountSid}/Messages.json.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()

	account, ok := strings.CutPrefix(r.URL.Path, "/2010-04-01/Accounts/")
	if ok {
		account, ok = strings.CutSuffix(account, "/Messages.json")
	}
	if !ok || account == "" || strings.Contains(account, "/") {
		writeError(w, Failure{Status: http.StatusNotFound, Code: 20404,
			Message: "The requested resource " + r.URL.Path + " was not found"})
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, Failure{Status: http.StatusMethodNotAllowed, Code: 20004, Message: "Method not allowed"})
		return
	}
	user, pass, hasAuth := r.BasicAuth()
	s.mu.Lock()
	token, known := s.accounts[user]
	s.mu.Unlock()
	if !hasAuth || !known || pass != token || user != account {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeError(w, Failure{Status: http.StatusUnauthorized, Code: 20003, Message: "Authenticate"})
		return
	}
	msg, fail := s.readMessage(r, account)
	if fail != nil {
		writeError(w, *fail)
		return
	}

	s.mu.Lock()
	if f, failed := s.scripted(msg); failed {
		s.mu.Unlock()
		writeError(w, f)
		return
	}
	s.seq++
	msg.SID = fmt.Sprintf("SM%s%016x", s.base, s.seq)
	msg.CreatedAt = s.clock.Now()
	s.messages = append(s.messages, msg)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(resource(msg))
}

// scripted pops the next queued failure or finds a matching rule; s.mu held.
func (s *Server) scripted(msg Message) (Failure, bool) {
	if len(s.next) > 0 {
		f := s.next[0]
		s.next = s.next[1:]
		return f, true
	}
	for _, r := range s.rules {
		if r.match(msg) {
			return r.fail, true
		}
	}
	return Failure{}, false
}

func writeError(w http.ResponseWriter, f Failure) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(f.Body))
		return
	}
	body := map[string]any{"message": f.Message, "status": f.Status, "more_info": nil, "code": nil}
	if f.Code != 0 {
		body["code"] = f.Code
		body["more_info"] = fmt.Sprintf("https://www.twilio.com/docs/errors/%d", f.Code)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Status)
	_ = json.NewEncoder(w).Encode(body)
}

// resource is the Message resource Twilio answers with (§4, 201 Created).
func resource(m Message) map[string]any {
	var from, svc any = m.From, nil // null, not "", as Twilio writes absent values
	if m.MessagingServiceSID != "" {
		from, svc = nil, m.MessagingServiceSID
	}
	return map[string]any{
		"sid":                   m.SID,
		"account_sid":           m.AccountSID,
		"from":                  from,
		"to":                    m.To,
		"body":                  m.Body,
		"status":                m.Status,
		"direction":             "outbound-api",
		"num_media":             fmt.Sprint(len(m.MediaURLs)),
		"num_segments":          "1",
		"error_code":            nil,
		"error_message":         nil,
		"price":                 nil,
		"api_version":           "2010-04-01",
		"messaging_service_sid": svc,
		"date_created":          m.CreatedAt.UTC().Format(time.RFC1123Z),
		"date_updated":          m.CreatedAt.UTC().Format(time.RFC1123Z),
		"date_sent":             nil,
		"uri":                   "/2010-04-01/Accounts/" + m.AccountSID + "/Messages/" + m.SID + ".json",
	}
}

// NewSID returns a random Twilio-shaped SID with the given two-letter
// prefix ("SM", "AC", "MG", "HX"…).
func NewSID(prefix string) string { return prefix + randomHex(16) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b)
}

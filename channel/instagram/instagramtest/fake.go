// Package instagramtest is a fake of Meta's Instagram messaging API that
// speaks the real protocol on loopback, plus builders of signed webhook
// deliveries. Tests and `parley simulate` use it, so it imports no testing
// package: close it with Close. Section marks (§) are those of package
// instagram.
package instagramtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/parleyhq/parley/channel/instagram"
	"github.com/parleyhq/parley/channel/meta"
	"github.com/parleyhq/parley/channel/meta/metatest"
)

// Account is a business account the fake serves, with the one token
// allowed to use it.
type Account struct {
	ID       string
	Token    string
	Username string
	Name     string
}

// SentMessage is a send the fake accepted.
type SentMessage struct {
	ID           string // the mid the fake answered with
	AccountID    string
	To           string // recipient.id
	Text         string
	QuickReplies []instagram.QuickReplyOut
	Tag          string // HUMAN_AGENT when the message was tagged
	Attachment   *instagram.AttachmentOut
	Body         []byte // the request body exactly as received
}

// Response is a scripted answer to the next valid send.
type Response struct {
	Status  int // HTTP status; default 400
	Code    int // Graph error.code
	Subcode int // Graph error.error_subcode
	Message string
	Drop    bool // close the connection without answering
}

// OutsideWindow is Meta's refusal of a send outside the messaging window (§4).
func OutsideWindow() Response {
	return Response{Status: http.StatusBadRequest, Code: 10, Subcode: instagram.SubcodeOutOfWindow,
		Message: "(#10) This message is sent outside of allowed window."}
}

// TokenExpired is Meta's answer for an expired or revoked token (§5).
func TokenExpired() Response {
	return Response{Status: http.StatusUnauthorized, Code: 190, Message: "Error validating access token: Session has expired"}
}

// RateLimited is an application rate limit (§5).
func RateLimited() Response {
	return Response{Status: http.StatusBadRequest, Code: 4, Message: "(#4) Application request limit reached"}
}

// ServerError is a 500 without a Graph code.
func ServerError() Response {
	return Response{Status: http.StatusInternalServerError, Message: "An unexpected error has occurred. Please retry your request later."}
}

// Fake is a running fake API on 127.0.0.1. It checks every request as Meta
// would (path, bearer token, content type, body), records what it accepts
// and answers scripted failures. It is safe for concurrent use.
type Fake struct {
	// URL is the server's base URL, for instagram.Client.BaseURL.
	URL string

	srv    *httptest.Server
	prefix string
	rec    metatest.Recorder[SentMessage, Response]

	mu       sync.Mutex
	accounts map[string]Account
}

// Observe hands every accepted send to fn as it arrives, instead of keeping
// it for Sent: a load generator's fake would otherwise grow without bound.
func (f *Fake) Observe(fn func(SentMessage)) { f.rec.Observe(fn) }

// New starts a fake on 127.0.0.1.
func New() *Fake {
	var p [4]byte
	_, _ = rand.Read(p[:])
	f := &Fake{prefix: hex.EncodeToString(p[:]), accounts: map[string]Account{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	return f
}

// Close stops the server.
func (f *Fake) Close() { f.srv.Close() }

// Handler serves the fake's routes, for mounting elsewhere.
func (f *Fake) Handler() http.Handler { return http.HandlerFunc(f.serve) }

// AddAccount lets a.Token send from a.ID.
func (f *Fake) AddAccount(a Account) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accounts[a.ID] = a
}

// Script queues answers for the next valid sends, in order; when the
// queue is empty sends succeed.
func (f *Fake) Script(rs ...Response) { f.rec.Script(rs...) }

// Sent returns the accepted sends in order.
func (f *Fake) Sent() []SentMessage { return f.rec.Sent() }

// Requests counts every request that reached the fake.
func (f *Fake) Requests() int { return f.rec.Requests() }

// WaitSent waits until at least n sends were accepted, and returns them.
func (f *Fake) WaitSent(ctx context.Context, n int) ([]SentMessage, error) {
	sent, err := f.rec.WaitSent(ctx, n)
	if err != nil {
		return sent, fmt.Errorf("instagramtest: waiting for %d sends: %w", n, err)
	}
	return sent, nil
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	f.rec.Request()
	if !metatest.Loopback(r) {
		writeError(w, Response{Status: http.StatusForbidden, Code: 10, Message: "(#10) The fake only answers loopback clients"})
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) < 2 || len(parts) > 3 || !strings.HasPrefix(parts[0], "v") {
		writeError(w, Response{Code: 100, Message: "Unknown path components: " + r.URL.Path})
		return
	}
	id, edge := parts[1], ""
	if len(parts) == 3 {
		edge = parts[2]
	}
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	var acct Account
	found := false
	for _, a := range f.accounts {
		if token != "" && a.Token == token {
			acct, found = a, true
		}
	}
	f.mu.Unlock()
	if !found {
		writeError(w, TokenExpired())
		return
	}
	if id == "me" {
		id = acct.ID
	}
	if id != acct.ID {
		writeError(w, Response{Code: 100, Message: fmt.Sprintf("Unsupported request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions", id)})
		return
	}
	switch {
	case r.Method == http.MethodGet && edge == "":
		writeJSON(w, http.StatusOK, map[string]string{"id": acct.ID, "username": acct.Username, "name": acct.Name})
	case r.Method == http.MethodPost && edge == "messages":
		f.serveSend(w, r, acct)
	default:
		writeError(w, Response{Code: 100, Message: fmt.Sprintf("Unsupported %s request", r.Method)})
	}
}

func (f *Fake) serveSend(w http.ResponseWriter, r *http.Request, acct Account) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, Response{Code: 100, Message: "(#100) Content-Type must be application/json"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, Response{Code: 100, Message: "(#100) Unreadable body"})
		return
	}
	sent, err := check(body)
	if err != nil {
		writeError(w, Response{Code: 100, Message: "(#100) " + err.Error()})
		return
	}
	if scripted, ok := f.rec.Next(); ok {
		if scripted.Drop {
			metatest.Drop(w)
			return
		}
		writeError(w, scripted)
		return
	}
	sent = f.rec.Accept(func(seq int) SentMessage {
		sent.ID = fmt.Sprintf("aWdfFAKE%s%06d", f.prefix, seq)
		sent.AccountID, sent.Body = acct.ID, body
		return sent
	})
	writeJSON(w, http.StatusOK, instagram.SendResponse{RecipientID: sent.To, MessageID: sent.ID})
}

// check validates a send body as Meta does (§3, §4).
func check(body []byte) (SentMessage, error) {
	var req instagram.SendRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return SentMessage{}, fmt.Errorf("invalid body: %v", err)
	}
	m := SentMessage{To: req.Recipient.ID, Text: req.Message.Text, QuickReplies: req.Message.QuickReplies, Attachment: req.Message.Attachment}
	switch {
	case m.To == "":
		return m, fmt.Errorf("param recipient[id] must be non-empty")
	case req.Tag != "" && (req.Tag != instagram.TagHumanAgent || req.MessagingType != "MESSAGE_TAG"):
		return m, fmt.Errorf("tag %q with messaging_type %q is not supported", req.Tag, req.MessagingType)
	case req.Tag == "" && req.MessagingType == "MESSAGE_TAG":
		return m, fmt.Errorf("messaging_type MESSAGE_TAG needs a tag")
	case m.Attachment == nil && m.Text == "":
		return m, fmt.Errorf("param message must have text or an attachment")
	case m.Attachment != nil && m.Text != "":
		return m, fmt.Errorf("param message cannot have both text and an attachment")
	case utf8.RuneCountInString(m.Text) > instagram.MaxText:
		return m, fmt.Errorf("param message[text] must be at most %d characters", instagram.MaxText)
	case len(m.QuickReplies) > instagram.MaxQuickReplies:
		return m, fmt.Errorf("param message[quick_replies] must have at most %d elements", instagram.MaxQuickReplies)
	}
	for _, q := range m.QuickReplies {
		if q.ContentType != "text" || q.Title == "" || q.Payload == "" || utf8.RuneCountInString(q.Title) > instagram.MaxQuickReplyTitle {
			return m, fmt.Errorf("invalid quick reply %+v", q)
		}
	}
	m.Tag = req.Tag
	return m, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) { metatest.WriteJSON(w, status, v) }

// writeError answers r as the Graph API's error body (§5); status 400 when
// r has none.
func writeError(w http.ResponseWriter, r Response) {
	if r.Status == 0 {
		r.Status = http.StatusBadRequest
	}
	metatest.WriteError(w, r.Status, meta.GraphError{Code: r.Code, ErrorSubcode: r.Subcode, Message: r.Message})
}

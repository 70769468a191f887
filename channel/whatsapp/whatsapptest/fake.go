// Package whatsapptest is a fake of Meta's Graph API for WhatsApp that speaks
// the real protocol on loopback, plus builders of signed webhook payloads.
// Tests use it, and so does `parley simulate`, so it imports no testing
// package: close it with Close (e.g. t.Cleanup(f.Close)). Section marks (§)
// are those listed in package whatsapp's comment.
package whatsapptest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/parleyhq/parley/channel/meta"
	"github.com/parleyhq/parley/channel/meta/metatest"
)

// Number is a business phone number the fake serves, with the one token
// allowed to use it.
type Number struct {
	ID           string // phone_number_id
	Token        string
	Display      string // display_phone_number, e.g. "+1 555-000-1111"
	VerifiedName string
}

// SentMessage is a send the fake accepted.
type SentMessage struct {
	ID            string // the wamid the fake answered with
	PhoneNumberID string
	To            string
	Type          string // text, template, interactive
	Text          string // text.body, or an interactive message's body text
	PreviewURL    bool
	ReplyTo       string // context.message_id
	CallbackData  string
	Template      *Template
	Interactive   *Interactive
	Body          []byte // the request body exactly as received
}

// Template is a template send, as the fake understood it.
type Template struct {
	Name           string
	Language       string
	BodyParams     []string
	ButtonPayloads []string // by button index
}

// Interactive is a reply-buttons or list send, as the fake understood it.
type Interactive struct {
	Type    string // button, list
	Header  string
	Footer  string
	Button  string   // a list's button label
	Choices []Choice // reply buttons, or every list row in order
}

// Choice is a reply button or a list row.
type Choice struct {
	ID, Title, Description, Section string
}

// Read is a mark-read request the fake accepted.
type Read struct {
	PhoneNumberID string
	MessageID     string
	Typing        bool
	Body          []byte // the request body exactly as received
}

// FakeGraph is a running fake Graph API on 127.0.0.1. It checks every
// request as Meta would (path, bearer token, content type, body), records
// what it accepts, and answers scripted failures on demand. It is safe for
// concurrent use.
type FakeGraph struct {
	// URL is the server's base URL, to use as whatsapp.Config.BaseURL.
	URL string

	srv    *httptest.Server
	prefix string // makes wamids unique across fakes
	// rec keeps requests, sends and the script, and wakes waiters on
	// every change (notify).
	rec metatest.Recorder[SentMessage, Response]

	mu       sync.Mutex
	numbers  map[string]Number
	reads    []Read
	hanging  int
	release  chan struct{} // closed by Release to free hung requests
	closed   chan struct{}
	closeOne sync.Once

	statusURL, statusSecret string
	statusPending           int
	faultRate               float64
	faultMix                []Response
	faults                  int

	accounts map[string]*account // WhatsApp Business Accounts, for template listings
	listings int
}

// Observe hands every accepted send to fn as it arrives, instead of keeping
// it for Sent: a load generator's fake would otherwise grow without bound.
func (f *FakeGraph) Observe(fn func(SentMessage)) { f.rec.Observe(fn) }

// NewFakeGraph starts a fake Graph API on 127.0.0.1.
func NewFakeGraph() *FakeGraph {
	var p [4]byte
	_, _ = rand.Read(p[:])
	f := &FakeGraph{
		prefix:  strings.ToUpper(hex.EncodeToString(p[:])),
		numbers: map[string]Number{},
		release: make(chan struct{}),
		closed:  make(chan struct{}),
	}
	f.srv = httptest.NewServer(f.Handler())
	f.URL = f.srv.URL
	return f
}

// Close frees hung requests and stops the server.
func (f *FakeGraph) Close() {
	f.closeOne.Do(func() { close(f.closed) })
	f.srv.Close()
}

// AddNumber lets n.Token send from n.ID.
func (f *FakeGraph) AddNumber(n Number) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.numbers[n.ID] = n
}

// Script queues responses for the next valid sends, in order: each valid
// send takes the first queued one; when the queue is empty sends succeed.
func (f *FakeGraph) Script(rs ...Response) { f.rec.Script(rs...) }

// Release frees every request held by a Hang response; they then proceed
// as normal sends, unless their client has gone.
func (f *FakeGraph) Release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.release)
	f.release = make(chan struct{})
}

// Sent returns the accepted sends, in the order they were accepted.
func (f *FakeGraph) Sent() []SentMessage { return f.rec.Sent() }

// Reads returns the accepted mark-read requests.
func (f *FakeGraph) Reads() []Read {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Read(nil), f.reads...)
}

// Requests counts every request that reached the fake, accepted or not.
func (f *FakeGraph) Requests() int { return f.rec.Requests() }

// WaitSent waits until at least n sends were accepted, and returns them.
func (f *FakeGraph) WaitSent(ctx context.Context, n int) ([]SentMessage, error) {
	sent, err := f.rec.WaitSent(ctx, n)
	if err != nil {
		err = fmt.Errorf("whatsapptest: waiting: %w", err)
	}
	return sent, err
}

// WaitHanging waits until n requests are held by Hang responses.
func (f *FakeGraph) WaitHanging(ctx context.Context, n int) error {
	return f.waitFor(ctx, func() bool { return f.hanging >= n })
}

// waitFor blocks until cond (called under the lock) holds or ctx ends.
func (f *FakeGraph) waitFor(ctx context.Context, cond func() bool) error {
	err := f.rec.Wait(ctx, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return cond()
	})
	if err != nil {
		return fmt.Errorf("whatsapptest: waiting: %w", err)
	}
	return nil
}

// notify wakes the waiters, after a change to what they wait for.
func (f *FakeGraph) notify() { f.rec.Notify() }

// Handler serves the fake's routes, for mounting elsewhere (e.g. by the
// simulator on its own listener).
func (f *FakeGraph) Handler() http.Handler {
	return http.HandlerFunc(f.serve)
}

func (f *FakeGraph) serve(w http.ResponseWriter, r *http.Request) {
	f.rec.Request()
	if !metatest.Loopback(r) {
		writeError(w, http.StatusForbidden, 10, "(#10) The fake Graph API only answers loopback clients", "")
		return
	}
	id, edge, ok := splitPath(r.URL.Path)
	if !ok {
		writeError(w, http.StatusBadRequest, 100, "Unknown path components: "+r.URL.Path, "")
		return
	}
	if r.Method == http.MethodGet && edge == "message_templates" {
		f.serveTemplates(w, r, id)
		return
	}
	n, ok := f.authorize(w, r, id)
	if !ok {
		return
	}
	switch {
	case r.Method == http.MethodGet && edge == "":
		// Scripted answers apply to number look-ups too, so a test can
		// hang a channel check while its process is killed.
		if resp, ok := f.rec.Next(); ok && f.act(w, r, resp) {
			return
		}
		f.servePhoneNumber(w, r, n)
	case r.Method == http.MethodPost && edge == "messages":
		f.serveMessages(w, r, n)
	default:
		writeError(w, http.StatusBadRequest, 100,
			fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not support this operation", r.Method, id), "")
	}
}

// splitPath reads /{version}/{id}[/{edge}] with a version like v23.0.
func splitPath(p string) (id, edge string, ok bool) {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(parts) < 2 || len(parts) > 3 || !isVersion(parts[0]) || !isDigits(parts[1]) {
		return "", "", false
	}
	if len(parts) == 3 {
		edge = parts[2]
	}
	return parts[1], edge, true
}

func isVersion(v string) bool {
	major, minor, ok := strings.Cut(strings.TrimPrefix(v, "v"), ".")
	return ok && strings.HasPrefix(v, "v") && isDigits(major) && isDigits(minor)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// authorize checks the bearer token, then that it may use the number: an
// unknown token is 401 (code 190), a number the token cannot see is 400
// (code 100), as the Graph API answers.
func (f *FakeGraph) authorize(w http.ResponseWriter, r *http.Request, id string) (Number, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	n, exists := f.numbers[id]
	known := false
	for _, m := range f.numbers {
		known = known || (token != "" && m.Token == token)
	}
	f.mu.Unlock()
	if !ok || !known {
		writeError(w, http.StatusUnauthorized, 190, "Invalid OAuth access token - Cannot parse access token", "")
		return Number{}, false
	}
	if !exists || n.Token != token {
		writeError(w, http.StatusBadRequest, 100,
			fmt.Sprintf("Unsupported request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation", id), "")
		return Number{}, false
	}
	return n, true
}

func (f *FakeGraph) servePhoneNumber(w http.ResponseWriter, r *http.Request, n Number) {
	out := map[string]string{"id": n.ID}
	for _, field := range strings.Split(r.URL.Query().Get("fields"), ",") {
		switch strings.TrimSpace(field) {
		case "display_phone_number":
			out["display_phone_number"] = n.Display
		case "verified_name":
			out["verified_name"] = n.VerifiedName
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (f *FakeGraph) serveMessages(w http.ResponseWriter, r *http.Request, n Number) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusBadRequest, 100, "(#100) Content-Type must be application/json", "got "+ct)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, 100, "(#100) Unreadable body", err.Error())
		return
	}
	req, read, err := checkBody(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, 100, "(#100) Invalid parameter", err.Error())
		return
	}
	if read != nil {
		read.PhoneNumberID, read.Body = n.ID, body
		f.mu.Lock()
		f.reads = append(f.reads, *read)
		f.notify()
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
		return
	}

	resp, ok := f.rec.Next()
	if !ok {
		resp, ok = f.randomFault()
	}
	if ok {
		if done := f.act(w, r, resp); done {
			return
		}
	}
	req.PhoneNumberID = n.ID
	req.Body = body
	sent := f.rec.Accept(func(seq int) SentMessage {
		req.ID = fmt.Sprintf("wamid.FAKE%s%06d", f.prefix, seq)
		return *req
	})
	writeJSON(w, http.StatusOK, map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []map[string]string{{"input": req.To, "wa_id": strings.TrimPrefix(req.To, "+")}},
		"messages":          []map[string]string{{"id": req.ID, "message_status": "accepted"}},
	})
	go f.postStatus(n, sent)
}

func writeJSON(w http.ResponseWriter, status int, v any) { metatest.WriteJSON(w, status, v) }

// writeError answers with the Graph error body of §4.
func writeError(w http.ResponseWriter, status, code int, message, details string) {
	e := meta.GraphError{Code: code, Message: message}
	if details != "" {
		e.ErrorData = &meta.ErrorData{MessagingProduct: "whatsapp", Details: details}
	}
	metatest.WriteError(w, status, e)
}

// SentTo returns what was sent to phone (E.164, or digits as WhatsApp
// writes them), in order.
func (f *FakeGraph) SentTo(phone string) []SentMessage {
	var out []SentMessage
	want := strings.TrimPrefix(phone, "+")
	for _, m := range f.Sent() {
		if strings.TrimPrefix(m.To, "+") == want {
			out = append(out, m)
		}
	}
	return out
}

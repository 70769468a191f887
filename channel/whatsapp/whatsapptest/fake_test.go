package whatsapptest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/whatsapp"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
)

const (
	pn    = "106000000000002"
	token = "EAAG-token"
	good  = `{"messaging_product":"whatsapp","recipient_type":"individual","to":"5511999990000","type":"text","text":{"body":"hi","preview_url":false}}`
)

func newFake(t *testing.T) *whatsapptest.FakeGraph {
	t.Helper()
	f := whatsapptest.NewFakeGraph()
	t.Cleanup(f.Close)
	f.AddNumber(whatsapptest.Number{ID: pn, Token: token, Display: "+1 555-000-1111", VerifiedName: "Lima Shop"})
	return f
}

type graphError struct {
	Error struct {
		Code      int    `json:"code"`
		Message   string `json:"message"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
	} `json:"error"`
}

func do(t *testing.T, f *whatsapptest.FakeGraph, method, path, auth, contentType, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// The fake refuses every request that breaks Cloud API §3, with a Graph error
// body, and records nothing.
func TestFakeRejects(t *testing.T) {
	const path = "/v23.0/" + pn + "/messages"
	bearer := "Bearer " + token
	withBody := func(old, new string) string { return strings.Replace(good, old, new, 1) }
	buttons := func(n int, title string) string {
		var bs []string
		for i := range n {
			bs = append(bs, `{"type":"reply","reply":{"id":"b`+string(rune('a'+i))+`","title":"`+title+string(rune('a'+i))+`"}}`)
		}
		return `{"messaging_product":"whatsapp","to":"5511999990000","type":"interactive","interactive":{"type":"button","body":{"text":"Q?"},"action":{"buttons":[` + strings.Join(bs, ",") + `]}}}`
	}
	tests := []struct {
		name, method, path, auth, ctype, body string
		status, code                          int
	}{
		{"accepted", "POST", path, bearer, "application/json", good, 200, 0},
		{"no version", "POST", "/" + pn + "/messages", bearer, "application/json", good, 400, 100},
		{"bad version", "POST", "/23.0/" + pn + "/messages", bearer, "application/json", good, 400, 100},
		{"wrong edge", "POST", "/v23.0/" + pn + "/message", bearer, "application/json", good, 400, 100},
		{"unknown number", "POST", "/v23.0/106999999999999/messages", bearer, "application/json", good, 400, 100},
		{"no auth", "POST", path, "", "application/json", good, 401, 190},
		{"wrong token", "POST", path, "Bearer nope", "application/json", good, 401, 190},
		{"token without Bearer", "POST", path, token, "application/json", good, 401, 190},
		{"form content type", "POST", path, bearer, "application/x-www-form-urlencoded", good, 400, 100},
		{"not JSON", "POST", path, bearer, "application/json", "to=1", 400, 100},
		{"unknown field", "POST", path, bearer, "application/json", withBody(`"type"`, `"typo":1,"type"`), 400, 100},
		{"wrong messaging product", "POST", path, bearer, "application/json", withBody(`"whatsapp"`, `"sms"`), 400, 100},
		{"group recipient type", "POST", path, bearer, "application/json", withBody(`"individual"`, `"group"`), 400, 100},
		{"recipient with letters", "POST", path, bearer, "application/json", withBody(`5511999990000`, `55119999x0000`), 400, 100},
		{"type does not match object", "POST", path, bearer, "application/json", withBody(`"type":"text"`, `"type":"image"`), 400, 100},
		{"empty text", "POST", path, bearer, "application/json", withBody(`"body":"hi"`, `"body":""`), 400, 100},
		{"three buttons", "POST", path, bearer, "application/json", buttons(3, "t"), 200, 0},
		{"four buttons", "POST", path, bearer, "application/json", buttons(4, "t"), 400, 100},
		{"button title of 21", "POST", path, bearer, "application/json", buttons(1, strings.Repeat("t", 20)), 400, 100},
		{"template without language", "POST", path, bearer, "application/json",
			`{"messaging_product":"whatsapp","to":"5511999990000","type":"template","template":{"name":"x","language":{}}}`, 400, 100},
		{"template with an empty parameter", "POST", path, bearer, "application/json",
			`{"messaging_product":"whatsapp","to":"5511999990000","type":"template","template":{"name":"x","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":""}]}]}}`, 400, 100},
		{"read of nothing", "POST", path, bearer, "application/json", `{"messaging_product":"whatsapp","status":"read"}`, 400, 100},
		{"DELETE", "DELETE", path, bearer, "", "", 400, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			status, body := do(t, f, tc.method, tc.path, tc.auth, tc.ctype, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.status == 200 {
				if len(f.Sent()) != 1 {
					t.Fatalf("accepted send not recorded")
				}
				return
			}
			var ge graphError
			if err := json.Unmarshal(body, &ge); err != nil || ge.Error.Code != tc.code || ge.Error.Message == "" {
				t.Errorf("error body %s; want Graph error code %d", body, tc.code)
			}
			if len(f.Sent()) != 0 {
				t.Errorf("a refused request was recorded")
			}
		})
	}
}

func TestFakeRefusesNonLoopback(t *testing.T) {
	f := newFake(t)
	req := httptest.NewRequest("POST", "/v23.0/"+pn+"/messages", strings.NewReader(good))
	req.RemoteAddr = "203.0.113.7:5555"
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	f.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || len(f.Sent()) != 0 {
		t.Fatalf("status %d, sent %d; want 403 and nothing recorded", rec.Code, len(f.Sent()))
	}
}

func TestFakePhoneNumber(t *testing.T) {
	f := newFake(t)
	status, body := do(t, f, "GET", "/v24.0/"+pn+"?fields=display_phone_number,verified_name", "Bearer "+token, "", "")
	want := `{"display_phone_number":"+1 555-000-1111","id":"106000000000002","verified_name":"Lima Shop"}`
	if status != 200 || strings.TrimSpace(string(body)) != want {
		t.Fatalf("GET phone number = %d %s, want 200 %s", status, body, want)
	}
}

// WaitSent wakes as soon as enough sends arrive from other goroutines, and
// wamids are unique even across fakes.
func TestFakeWaitSentAndUniqueIDs(t *testing.T) {
	f1, f2 := newFake(t), newFake(t)
	c1, _ := whatsapp.NewClient(whatsapp.Config{BaseURL: f1.URL})
	c2, _ := whatsapp.NewClient(whatsapp.Config{BaseURL: f2.URL})
	var wg sync.WaitGroup
	for _, c := range []*whatsapp.Client{c1, c1, c1, c2, c2} {
		wg.Go(func() {
			if _, err := c.Send(t.Context(), token, pn, whatsapp.Outbound{To: "5511999990000", Text: "hi"}); err != nil {
				t.Errorf("Send: %v", err)
			}
		})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	got, err := f1.WaitSent(ctx, 3)
	if err != nil || len(got) != 3 {
		t.Fatalf("WaitSent = %d, %v", len(got), err)
	}
	wg.Wait()
	ids := map[string]bool{}
	for _, m := range append(f1.Sent(), f2.Sent()...) {
		if ids[m.ID] {
			t.Errorf("wamid %s given twice", m.ID)
		}
		ids[m.ID] = true
	}
	if len(ids) != 5 {
		t.Errorf("%d distinct wamids, want 5", len(ids))
	}
	// Waiting for more than will come ends with the context.
	short, cancelShort := context.WithCancel(t.Context())
	cancelShort()
	if _, err := f1.WaitSent(short, 4); err == nil {
		t.Error("WaitSent returned without the sends or an error")
	}
}

// The payload builders produce what the parser reads back, signed as Meta signs.
func TestWebhookBuilders(t *testing.T) {
	when := time.Date(2025, 10, 9, 12, 0, 0, 0, time.UTC)
	from := whatsapptest.Inbound{PhoneNumberID: pn, From: "5511999990000", Name: "Ana Lima", ID: "wamid.IN1", Time: when}
	text := whatsapptest.TextWebhook(from, "Olá!")
	if !whatsapp.VerifySignature("secret", text, whatsapptest.Sign("secret", text)) {
		t.Fatal("builder payload does not verify with its signature")
	}
	b, err := whatsapp.Parse(text)
	if err != nil || len(b.Messages) != 1 {
		t.Fatalf("Parse(text) = %+v, %v", b, err)
	}
	m := b.Messages[0]
	if m.PhoneNumberID != pn || m.MessageID != "wamid.IN1" || m.Content != "Olá!" || m.ContactName != "Ana Lima" ||
		!m.Timestamp.Equal(when) || m.Type != parley.MessageText || m.WABAID != whatsapptest.DefaultWABAID {
		t.Errorf("text message read back as %+v", m)
	}

	from.ID, from.ReplyTo = "", "wamid.OUT1"
	b, err = whatsapp.Parse(whatsapptest.ButtonReplyWebhook(from, "csat_5", "Great"))
	if err != nil || len(b.Messages) != 1 {
		t.Fatalf("Parse(button) = %+v, %v", b, err)
	}
	m = b.Messages[0]
	if m.Type != parley.MessageInteractive || m.Content != "Great" || m.Extra["interactive_id"] != "csat_5" ||
		m.ReplyToID != "wamid.OUT1" || !strings.HasPrefix(m.MessageID, "wamid.") {
		t.Errorf("button reply read back as %+v", m)
	}

	b, err = whatsapp.Parse(whatsapptest.StatusWebhook(whatsapptest.StatusEvent{PhoneNumberID: pn, MessageID: "wamid.OUT1",
		Status: "failed", RecipientID: "5511999990000", Time: when, ErrorCode: 131026, ErrorTitle: "Message undeliverable", ErrorDetail: "not on WhatsApp"}))
	if err != nil || len(b.Statuses) != 1 {
		t.Fatalf("Parse(status) = %+v, %v", b, err)
	}
	want := whatsapp.StatusUpdate{PhoneNumberID: pn, MessageID: "wamid.OUT1", Status: parley.StatusFailed, Timestamp: when,
		RecipientID: "5511999990000", ErrorCode: "131026", ErrorTitle: "Message undeliverable", ErrorDetail: "not on WhatsApp"}
	if b.Statuses[0] != want {
		t.Errorf("status read back as %+v, want %+v", b.Statuses[0], want)
	}
}

package whatsapp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/whatsapp"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/clock"
)

const (
	token    = "EAAG-test-token-secret"
	otherPN  = "106000000000008"
	otherTok = "EAAG-other-token"
)

// newFake starts a fake Graph API serving our two test numbers.
func newFake(t *testing.T) *whatsapptest.FakeGraph {
	t.Helper()
	f := whatsapptest.NewFakeGraph()
	t.Cleanup(f.Close)
	f.AddNumber(whatsapptest.Number{ID: pnID, Token: token, Display: "+1 555-000-1111", VerifiedName: "Lima Shop"})
	f.AddNumber(whatsapptest.Number{ID: otherPN, Token: otherTok, Display: "+1 555-000-2222", VerifiedName: "Other"})
	return f
}

// newClient returns a client of the fake with no rate limit, unless cfg sets one.
func newClient(t *testing.T, f *whatsapptest.FakeGraph, cfg whatsapp.Config) *whatsapp.Client {
	t.Helper()
	cfg.BaseURL = f.URL
	if cfg.RateLimit == 0 {
		cfg.RateLimit = -1
	}
	c, err := whatsapp.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sendFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "send", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameJSON compares two JSON documents by value, not by layout.
func sameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("request body\n got: %s\nwant: %s", got, want)
	}
}

func TestSendEachKind(t *testing.T) {
	tests := []struct {
		name string // also the expected body in testdata/send
		msg  whatsapp.Outbound
		want whatsapptest.SentMessage // what the fake understood (ID, number and body are checked apart)
	}{
		{"text", whatsapp.Outbound{To: "+5511999990000", Text: "Your order #881 is ready."},
			whatsapptest.SentMessage{To: "+5511999990000", Type: "text", Text: "Your order #881 is ready."}},
		{"text_reply", whatsapp.Outbound{To: ana, Text: "See https://shop.example/orders/881", PreviewURL: true,
			ReplyTo: "wamid.HBgNAAA1", CallbackData: "msg-42"},
			whatsapptest.SentMessage{To: ana, Type: "text", Text: "See https://shop.example/orders/881", PreviewURL: true,
				ReplyTo: "wamid.HBgNAAA1", CallbackData: "msg-42"}},
		{"template", whatsapp.Outbound{To: ana, Template: &parley.Template{Name: "order_ready", Language: "pt_BR",
			Parameters: []string{"Ana", "#881"}}, TemplateButtonPayloads: []string{"CONFIRM_881"}},
			whatsapptest.SentMessage{To: ana, Type: "template", Template: &whatsapptest.Template{Name: "order_ready", Language: "pt_BR",
				BodyParams: []string{"Ana", "#881"}, ButtonPayloads: []string{"CONFIRM_881"}}}},
		{"template_no_params", whatsapp.Outbound{To: ana, Template: &parley.Template{Name: "hello_world", Language: "en_US"}},
			whatsapptest.SentMessage{To: ana, Type: "template", Template: &whatsapptest.Template{Name: "hello_world", Language: "en_US"}}},
		{"buttons", whatsapp.Outbound{To: ana, Buttons: &whatsapp.Buttons{Body: "Confirm pickup tomorrow 10:00?",
			Choices: []whatsapp.Choice{{ID: "confirm_yes", Title: "Yes"}, {ID: "confirm_no", Title: "No"}}}},
			whatsapptest.SentMessage{To: ana, Type: "interactive", Text: "Confirm pickup tomorrow 10:00?",
				Interactive: &whatsapptest.Interactive{Type: "button", Choices: []whatsapptest.Choice{{ID: "confirm_yes", Title: "Yes"}, {ID: "confirm_no", Title: "No"}}}}},
		{"list", whatsapp.Outbound{To: ana, List: &whatsapp.List{Header: "Pickup", Body: "When would you like to pick up your order?",
			Footer: "Shop, Rua A, 1", Button: "Choose a time", Sections: []whatsapp.Section{
				{Title: "Tomorrow", Rows: []whatsapp.Choice{{ID: "slot_10am", Title: "10:00", Description: "Morning"}, {ID: "slot_3pm", Title: "15:00"}}},
				{Title: "Friday", Rows: []whatsapp.Choice{{ID: "slot_fri_10am", Title: "Fri 10:00"}}}}}},
			whatsapptest.SentMessage{To: ana, Type: "interactive", Text: "When would you like to pick up your order?",
				Interactive: &whatsapptest.Interactive{Type: "list", Header: "Pickup", Footer: "Shop, Rua A, 1", Button: "Choose a time",
					Choices: []whatsapptest.Choice{{ID: "slot_10am", Title: "10:00", Description: "Morning", Section: "Tomorrow"},
						{ID: "slot_3pm", Title: "15:00", Section: "Tomorrow"}, {ID: "slot_fri_10am", Title: "Fri 10:00", Section: "Friday"}}}}},
	}
	f := newFake(t)
	c := newClient(t, f, whatsapp.Config{})
	ids := map[string]bool{}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wamid, err := c.Send(t.Context(), token, pnID, tc.msg)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			sent := f.Sent()
			if len(sent) != i+1 {
				t.Fatalf("fake holds %d sends, want %d", len(sent), i+1)
			}
			got := sent[i]
			if got.ID != wamid || ids[wamid] || !strings.HasPrefix(wamid, "wamid.") {
				t.Errorf("Send returned %q; fake answered %q; must be a fresh wamid", wamid, got.ID)
			}
			ids[wamid] = true
			sameJSON(t, got.Body, sendFixture(t, tc.name))
			if got.PhoneNumberID != pnID {
				t.Errorf("sent from %q, want %q", got.PhoneNumberID, pnID)
			}
			got.ID, got.PhoneNumberID, got.Body = "", "", nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("fake understood\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestSendErrors(t *testing.T) {
	now := time.Date(2025, 10, 9, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		script     whatsapptest.Response
		wantStatus int
		wantCode   int
		retryable  bool
		retryAfter time.Duration
	}{
		{"429 with Retry-After seconds", whatsapptest.RateLimited("7"), 429, 130429, true, 7 * time.Second},
		{"429 with Retry-After date", whatsapptest.RateLimited(now.Add(30 * time.Second).Format(http.TimeFormat)), 429, 130429, true, 30 * time.Second},
		{"429 without Retry-After", whatsapptest.RateLimited(""), 429, 130429, true, 0},
		{"throughput 130429 as HTTP 400", whatsapptest.ErrorCode(130429), 400, 130429, true, 0},
		{"pair rate limit 131056", whatsapptest.ErrorCode(131056), 400, 131056, true, 6 * time.Second},
		{"maintenance 131057", whatsapptest.ErrorCode(131057), 400, 131057, true, time.Minute},
		{"500 without a Graph body", whatsapptest.ServerError(500), 500, 0, true, 0},
		{"503 without a Graph body", whatsapptest.ServerError(503), 503, 0, true, 0},
		{"unknown error 131000", whatsapptest.ErrorCode(131000), 500, 131000, true, 0},
		{"undeliverable 131026", whatsapptest.ErrorCode(131026), 400, 131026, false, 0},
		{"re-engagement 131047", whatsapptest.ErrorCode(131047), 400, 131047, false, 0},
		{"template params 132000", whatsapptest.ErrorCode(132000), 400, 132000, false, 0},
		{"template missing 132001", whatsapptest.ErrorCode(132001), 400, 132001, false, 0},
		{"token expired 190", whatsapptest.ErrorCode(190), 401, 190, false, 0},
		{"invalid parameter 100", whatsapptest.ErrorCode(100), 400, 100, false, 0},
		{"permanent code even as 503", whatsapptest.Response{Status: 503, Code: 131026, Message: "Message Undeliverable"}, 503, 131026, false, 0},
		{"unknown code on 4xx", whatsapptest.Response{Status: 400, Code: 999999, Message: "new"}, 400, 999999, false, 0},
		{"unknown code on 5xx", whatsapptest.Response{Status: 502, Code: 999999, Message: "new"}, 502, 999999, true, 0},
		{"dropped connection", whatsapptest.Drop(), 0, 0, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			c := newClient(t, f, whatsapp.Config{Clock: clock.NewFake(now)})
			f.Script(tc.script)
			_, err := c.Send(t.Context(), token, pnID, whatsapp.Outbound{To: ana, Text: "hello"})
			var se *whatsapp.SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send error = %v, want a *SendError", err)
			}
			if se.HTTPStatus != tc.wantStatus || se.Code != tc.wantCode || se.Retryable != tc.retryable || se.RetryAfter != tc.retryAfter {
				t.Errorf("got status %d code %d retryable %v after %v; want %d %d %v %v (%v)",
					se.HTTPStatus, se.Code, se.Retryable, se.RetryAfter, tc.wantStatus, tc.wantCode, tc.retryable, tc.retryAfter, se)
			}
			if whatsapp.Retryable(err) != tc.retryable {
				t.Errorf("Retryable(err) = %v", !tc.retryable)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error leaks the token: %v", err)
			}
			if n := len(f.Sent()); n != 0 {
				t.Errorf("a failed send was recorded %d times", n)
			}
			// One attempt per call: the script is used up and the next call, as
			// the caller's retry, goes through.
			if _, err := c.Send(t.Context(), token, pnID, whatsapp.Outbound{To: ana, Text: "hello"}); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if f.Requests() != 2 {
				t.Errorf("fake saw %d requests, want 2 (no retry inside the client)", f.Requests())
			}
		})
	}
}

func TestSendCredentials(t *testing.T) {
	f := newFake(t)
	c := newClient(t, f, whatsapp.Config{})
	tests := []struct {
		name     string
		token    string
		pn       string
		status   int
		code     int
		validate bool // refused before any HTTP call
	}{
		{"unknown token", "EAAG-nobody", pnID, 401, 190, false},
		{"token of another number", otherTok, pnID, 400, 100, false},
		{"unregistered number", token, "106999999999999", 400, 100, false},
		{"empty token", "", pnID, 0, 0, true},
		{"token with a new line", "abc\r\nX-Evil: 1", pnID, 0, 0, true},
		{"number id with a path", token, "106/../x", 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.Requests()
			_, err := c.Send(t.Context(), tc.token, tc.pn, whatsapp.Outbound{To: ana, Text: "hi"})
			if tc.validate {
				if parley.ErrorCode(err) != parley.CodeValidation || whatsapp.Retryable(err) || f.Requests() != before {
					t.Fatalf("err = %v; want a validation error and no request", err)
				}
				return
			}
			var se *whatsapp.SendError
			if !errors.As(err, &se) || se.HTTPStatus != tc.status || se.Code != tc.code || se.Retryable {
				t.Fatalf("err = %#v; want permanent HTTP %d code %d", err, tc.status, tc.code)
			}
		})
	}
}

func TestSendCancelledWhileHanging(t *testing.T) {
	f := newFake(t)
	c := newClient(t, f, whatsapp.Config{})
	f.Script(whatsapptest.Hang())
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := c.Send(ctx, token, pnID, whatsapp.Outbound{To: ana, Text: "slow"})
		done <- err
	}()
	if err := f.WaitHanging(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || !whatsapp.Retryable(err) {
		t.Fatalf("err = %v; want a retryable error wrapping context.Canceled", err)
	}
	if err := f.WaitHanging(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
	if n := len(f.Sent()); n != 0 {
		t.Fatalf("an abandoned send was recorded")
	}
}

func TestSendHangReleased(t *testing.T) {
	f := newFake(t)
	c := newClient(t, f, whatsapp.Config{})
	f.Script(whatsapptest.Hang())
	done := make(chan error, 1)
	go func() {
		_, err := c.Send(t.Context(), token, pnID, whatsapp.Outbound{To: ana, Text: "slow"})
		done <- err
	}()
	if err := f.WaitHanging(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	f.Release()
	if err := <-done; err != nil {
		t.Fatalf("Send after release: %v", err)
	}
	sent, err := f.WaitSent(t.Context(), 1)
	if err != nil || sent[0].Text != "slow" {
		t.Fatalf("WaitSent = %+v, %v", sent, err)
	}
}

func TestMarkRead(t *testing.T) {
	f := newFake(t)
	c := newClient(t, f, whatsapp.Config{})
	if err := c.MarkRead(t.Context(), token, pnID, "wamid.HBgNAAA1"); err != nil {
		t.Fatalf("MarkRead: %v", err)
	}
	reads := f.Reads()
	if len(reads) != 1 {
		t.Fatalf("fake holds %d reads, want 1", len(reads))
	}
	sameJSON(t, reads[0].Body, sendFixture(t, "mark_read"))
	reads[0].Body = nil
	want := whatsapptest.Read{PhoneNumberID: pnID, MessageID: "wamid.HBgNAAA1", Typing: true}
	if !reflect.DeepEqual(reads[0], want) {
		t.Errorf("Reads = %+v, want %+v", reads[0], want)
	}
	if err := c.MarkRead(t.Context(), token, pnID, ""); parley.ErrorCode(err) != parley.CodeValidation {
		t.Errorf("MarkRead without id: err = %v, want a validation error", err)
	}
	if err := c.MarkRead(t.Context(), "EAAG-nobody", pnID, "wamid.X"); whatsapp.Retryable(err) || err == nil {
		t.Errorf("MarkRead with a bad token: err = %v, want a permanent error", err)
	}
}

func TestGetPhoneNumber(t *testing.T) {
	f := newFake(t)
	c := newClient(t, f, whatsapp.Config{})
	display, name, err := c.GetPhoneNumber(t.Context(), token, pnID)
	if err != nil || display != "+1 555-000-1111" || name != "Lima Shop" {
		t.Fatalf("GetPhoneNumber = %q, %q, %v", display, name, err)
	}
	_, _, err = c.GetPhoneNumber(t.Context(), "EAAG-expired", pnID)
	var se *whatsapp.SendError
	if !errors.As(err, &se) || se.Code != 190 || se.HTTPStatus != 401 || se.Retryable {
		t.Fatalf("bad token: err = %v; want permanent 401 code 190", err)
	}
}

func TestNewClient(t *testing.T) {
	tests := []struct {
		name string
		cfg  whatsapp.Config
		ok   bool
	}{
		{"defaults", whatsapp.Config{}, true},
		{"another version", whatsapp.Config{APIVersion: "v24.0"}, true},
		{"version without v", whatsapp.Config{APIVersion: "23.0"}, false},
		{"version with a path", whatsapp.Config{APIVersion: "v23.0/x"}, false},
		{"base URL without scheme", whatsapp.Config{BaseURL: "graph.facebook.com"}, false},
		{"ftp base URL", whatsapp.Config{BaseURL: "ftp://graph.facebook.com"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := whatsapp.NewClient(tc.cfg)
			if (err == nil) != tc.ok {
				t.Errorf("NewClient error = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestRetryDelay(t *testing.T) {
	plain := &whatsapp.SendError{HTTPStatus: 503, Retryable: true}
	pair := &whatsapp.SendError{Code: 131056, Retryable: true, RetryAfter: 6 * time.Second}
	told := &whatsapp.SendError{HTTPStatus: 429, Retryable: true, RetryAfter: 90 * time.Second}
	tests := []struct {
		err     error
		attempt int
		want    time.Duration
	}{
		{plain, 1, time.Second},
		{plain, 4, 8 * time.Second},
		{plain, 30, 15 * time.Minute},
		{pair, 1, 6 * time.Second},
		{pair, 3, 24 * time.Second},
		{told, 1, 90 * time.Second},
		{told, 8, 128 * time.Second},
	}
	for _, tc := range tests {
		if got := whatsapp.RetryDelay(tc.err, tc.attempt); got != tc.want {
			t.Errorf("RetryDelay(%v, %d) = %v, want %v", tc.err, tc.attempt, got, tc.want)
		}
	}
}

package twilio_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/twilio"
	"github.com/parleyhq/parley/channel/twilio/twiliotest"
	"github.com/parleyhq/parley/clock"
)

const (
	token   = "secret-auth-token-0123456789"
	sender  = "+15550001111"
	contact = "+5511999990000"
)

var epoch = time.Date(2025, 10, 9, 10, 0, 0, 0, time.UTC)

func newFake(t *testing.T) (*twiliotest.Server, *twilio.Client) {
	t.Helper()
	fake := twiliotest.NewWithClock(clock.NewFake(epoch))
	t.Cleanup(fake.Close)
	fake.AddAccount(acct, token)
	c := twilio.NewClient(fake.URL, 5*time.Second)
	c.Clock = clock.NewFake(epoch)
	return fake, c
}

func TestSendAccepted(t *testing.T) {
	tests := []struct {
		name     string
		from     string
		msg      twilio.Outbound
		wantForm url.Values
		check    func(t *testing.T, m twiliotest.Message)
	}{
		{
			name: "free-form text",
			from: sender,
			msg:  twilio.Outbound{Body: "Your order #881 is ready 🎉"},
			wantForm: url.Values{"From": {"whatsapp:+15550001111"}, "To": {"whatsapp:+5511999990000"},
				"Body": {"Your order #881 is ready 🎉"}},
		},
		{
			name: "template with variables and a status callback",
			from: "whatsapp:" + sender,
			msg: twilio.Outbound{ContentSID: "HX0123456789abcdef0123456789abcdef",
				ContentVariables: map[string]string{"1": "Ana", "2": "#881"},
				StatusCallback:   "https://parley.example/webhooks/twilio/ch1"},
			wantForm: url.Values{"From": {"whatsapp:+15550001111"}, "To": {"whatsapp:+5511999990000"},
				"ContentSid":       {"HX0123456789abcdef0123456789abcdef"},
				"ContentVariables": {`{"1":"Ana","2":"#881"}`},
				"StatusCallback":   {"https://parley.example/webhooks/twilio/ch1"}},
			check: func(t *testing.T, m twiliotest.Message) {
				if want := map[string]string{"1": "Ana", "2": "#881"}; !reflect.DeepEqual(m.ContentVariables, want) {
					t.Errorf("ContentVariables = %v, want %v", m.ContentVariables, want)
				}
			},
		},
		{
			name:     "template without variables",
			from:     sender,
			msg:      twilio.Outbound{ContentSID: "HX0123456789abcdef0123456789abcdef"},
			wantForm: url.Values{"From": {"whatsapp:+15550001111"}, "To": {"whatsapp:+5511999990000"}, "ContentSid": {"HX0123456789abcdef0123456789abcdef"}},
		},
		{
			name: "through a Messaging Service, with media",
			from: "MG0123456789abcdef0123456789abcdef",
			msg:  twilio.Outbound{Body: "Your invoice", MediaURL: "https://cdn.example/invoice.pdf"},
			wantForm: url.Values{"MessagingServiceSid": {"MG0123456789abcdef0123456789abcdef"},
				"To": {"whatsapp:+5511999990000"}, "Body": {"Your invoice"}, "MediaUrl": {"https://cdn.example/invoice.pdf"}},
			check: func(t *testing.T, m twiliotest.Message) {
				if m.Status != "accepted" {
					t.Errorf("status = %q, want accepted", m.Status)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := newFake(t)
			sid, err := c.Send(context.Background(), acct, token, tt.from, contact, tt.msg)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := fake.Messages()
			if len(got) != 1 {
				t.Fatalf("fake holds %d messages, want 1", len(got))
			}
			if got[0].SID != sid || !strings.HasPrefix(sid, "SM") || len(sid) != 34 {
				t.Errorf("sid %q, fake recorded %q", sid, got[0].SID)
			}
			if !reflect.DeepEqual(got[0].Form, tt.wantForm) {
				t.Errorf("form = %v\nwant %v", got[0].Form, tt.wantForm)
			}
			if tt.check != nil {
				tt.check(t, got[0])
			}
		})
	}
}

func TestSendFailures(t *testing.T) {
	retryDate := epoch.Add(30 * time.Second).Format(http.TimeFormat)
	tests := []struct {
		name       string
		fail       *twiliotest.Failure // scripted; nil uses the fake's own checks
		token, to  string
		status     int
		code       int
		retryable  bool
		retryAfter time.Duration
		domain     parley.Code // parley.ErrorCode(err), "" to skip
	}{
		{name: "429 with Retry-After seconds", fail: ptr(twiliotest.TooManyRequests("7")),
			status: 429, code: 20429, retryable: true, retryAfter: 7 * time.Second, domain: parley.CodeRateLimited},
		{name: "429 without Retry-After", fail: ptr(twiliotest.TooManyRequests("")),
			status: 429, code: 20429, retryable: true},
		{name: "429 with an HTTP-date Retry-After", fail: ptr(twiliotest.TooManyRequests(retryDate)),
			status: 429, code: 20429, retryable: true, retryAfter: 30 * time.Second},
		{name: "500", fail: ptr(twiliotest.ServerError(500)), status: 500, code: 20500, retryable: true},
		{name: "503 with Retry-After", fail: &twiliotest.Failure{Status: 503, Code: 20503, Message: "Service unavailable", RetryAfter: "2"},
			status: 503, code: 20503, retryable: true, retryAfter: 2 * time.Second},
		{name: "502 from a proxy, HTML body", fail: &twiliotest.Failure{Status: 502, Body: "<html>Bad Gateway</html>"},
			status: 502, retryable: true},
		{name: "channel rate limit 63018", fail: &twiliotest.Failure{Status: 400, Code: 63018, Message: "Rate limit exceeded"},
			status: 400, code: 63018, retryable: true, domain: parley.CodeRateLimited},
		{name: "outside the window 63016", fail: ptr(twiliotest.OutsideWindow()),
			status: 400, code: 63016, domain: parley.CodeConflict},
		{name: "marketing not delivered 63049", fail: &twiliotest.Failure{Status: 400, Code: 63049, Message: "Meta chose not to deliver"},
			status: 400, code: 63049},
		{name: "invalid recipient 63024", fail: &twiliotest.Failure{Status: 400, Code: 63024, Message: "Invalid message recipient"},
			status: 400, code: 63024, domain: parley.CodeValidation},
		{name: "invalid To 21211, refused by the fake", to: "+1123",
			status: 400, code: 21211, domain: parley.CodeValidation},
		{name: "wrong auth token 20003", token: "wrong-token",
			status: 401, code: 20003, domain: parley.CodeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := newFake(t)
			if tt.fail != nil {
				fake.FailNext(*tt.fail)
			}
			tok, to := token, contact
			if tt.token != "" {
				tok = tt.token
			}
			if tt.to != "" {
				to = tt.to
			}
			sid, err := c.Send(context.Background(), acct, tok, sender, to, twilio.Outbound{Body: "hi"})
			var se *twilio.SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send = %q, %v; want a *SendError", sid, err)
			}
			if se.HTTPStatus != tt.status || se.Code != tt.code || se.Retryable != tt.retryable || se.RetryAfter != tt.retryAfter {
				t.Errorf("got %+v; want status %d, code %d, retryable %v, retry after %v",
					se, tt.status, tt.code, tt.retryable, tt.retryAfter)
			}
			if twilio.IsRetryable(err) != tt.retryable {
				t.Errorf("IsRetryable = %v", !tt.retryable)
			}
			if tt.domain != "" && parley.ErrorCode(err) != tt.domain {
				t.Errorf("parley.ErrorCode = %q, want %q", parley.ErrorCode(err), tt.domain)
			}
			if se.Message == "" {
				t.Error("empty message")
			}
			if n := fake.Requests(); n != 1 {
				t.Errorf("fake saw %d requests, want exactly 1 (no retry loop inside Send)", n)
			}
			if len(fake.Messages()) != 0 {
				t.Error("a refused send was recorded")
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error %q leaks the auth token", err)
			}
		})
	}
}

func TestSendOutsideWindowIsTheDomainError(t *testing.T) {
	fake, c := newFake(t)
	fake.FailNext(twiliotest.OutsideWindow())
	_, err := c.Send(context.Background(), acct, token, sender, contact, twilio.Outbound{Body: "hi"})
	if !errors.Is(err, parley.ErrOutsideWindow) {
		t.Fatalf("error %v does not match parley.ErrOutsideWindow", err)
	}
}

func TestSendNetworkErrors(t *testing.T) {
	t.Run("server gone", func(t *testing.T) {
		fake, c := newFake(t)
		fake.Close()
		_, err := c.Send(context.Background(), acct, token, sender, contact, twilio.Outbound{Body: "hi"})
		var se *twilio.SendError
		if !errors.As(err, &se) || !se.Retryable || se.HTTPStatus != 0 || se.Err == nil {
			t.Fatalf("got %#v, want a retryable network error", err)
		}
	})
	t.Run("caller gives up while Twilio hangs", func(t *testing.T) {
		arrived, release := make(chan struct{}), make(chan struct{})
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(arrived)
			<-release
		}))
		defer hang.Close()
		defer close(release) // runs first: lets the handler end so Close returns
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-arrived; cancel() }()
		_, err := twilio.NewClient(hang.URL, time.Minute).Send(ctx, acct, token, sender, contact, twilio.Outbound{Body: "hi"})
		if !twilio.IsRetryable(err) || !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want a retryable error wrapping context.Canceled", err)
		}
	})
	t.Run("accepted without a sid is not retried", func(t *testing.T) {
		odd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"status":"queued"}`))
		}))
		defer odd.Close()
		_, err := twilio.NewClient(odd.URL, time.Minute).Send(context.Background(), acct, token, sender, contact, twilio.Outbound{Body: "hi"})
		var se *twilio.SendError
		if !errors.As(err, &se) || se.Retryable || se.HTTPStatus != http.StatusCreated {
			t.Fatalf("got %v, want a permanent error: a retry could send twice", err)
		}
	})
}

func TestSendRefusesBadOutboundLocally(t *testing.T) {
	long := strings.Repeat("a", 1601)
	tests := []struct {
		name                string
		acct, tok, from, to string
		msg                 twilio.Outbound
	}{
		{"nothing to send", acct, token, sender, contact, twilio.Outbound{}},
		{"template with a body", acct, token, sender, contact, twilio.Outbound{Body: "x", ContentSID: "HX0123456789abcdef0123456789abcdef"}},
		{"template with media", acct, token, sender, contact, twilio.Outbound{MediaURL: "https://x/y", ContentSID: "HX0123456789abcdef0123456789abcdef"}},
		{"variables without a template", acct, token, sender, contact, twilio.Outbound{Body: "x", ContentVariables: map[string]string{"1": "a"}}},
		{"body too long", acct, token, sender, contact, twilio.Outbound{Body: long}},
		{"no recipient", acct, token, sender, "", twilio.Outbound{Body: "x"}},
		{"no sender", acct, token, "", contact, twilio.Outbound{Body: "x"}},
		{"no account", "", token, sender, contact, twilio.Outbound{Body: "x"}},
		{"no token", acct, "", sender, contact, twilio.Outbound{Body: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := newFake(t)
			_, err := c.Send(context.Background(), tt.acct, tt.tok, tt.from, tt.to, tt.msg)
			var se *twilio.SendError
			if !errors.As(err, &se) || se.Retryable {
				t.Fatalf("got %v, want a permanent *SendError", err)
			}
			if n := fake.Requests(); n != 0 {
				t.Errorf("fake saw %d requests, want none", n)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

package channel_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/twilio"
	"github.com/parleyhq/parley/channel/twilio/twiliotest"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/store"
)

const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "twilio-auth-token"
	ourNumber  = "+15550001111"
)

func (e *env) twilioChannel() parley.Channel {
	e.t.Helper()
	ch, err := e.Store.CreateChannel(context.Background(), parley.Channel{TenantID: e.tenant.ID, Type: parley.ChannelTwilio, Name: "tw",
		DisplayNumber: ourNumber, Active: true, Settings: map[string]string{"account_sid": accountSID, "auth_token": authToken}})
	if err != nil {
		e.t.Fatal(err)
	}
	return ch
}

// postTwilio posts form to path on the server under test, signed with
// token for signedURL (the URL Twilio would have called).
func (e *env) postTwilio(path, token, signedURL string, form url.Values) (int, string, string) {
	e.t.Helper()
	req, err := twiliotest.NewWebhookRequest(context.Background(), token, signedURL, form)
	if err != nil {
		e.t.Fatal(err)
	}
	local, _ := url.Parse(e.URL() + path)
	req.URL, req.Host = local, local.Host
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), string(b)
}

func TestTwilioInboundMessageIsReceived(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e *env) {
		ch := e.twilioChannel()
		cust, _ := e.Store.CreateCustomer(context.Background(), parley.Customer{TenantID: e.tenant.ID, Phone: anaE164, Name: "Ana Lima"})
		path := "/webhooks/twilio/" + ch.ID
		form := twiliotest.InboundText(accountSID, anaE164, ourNumber, "Ana Lima", "Is my order ready?")
		sid := form.Get("MessageSid")

		// No PARLEY_PUBLIC_URL: the signed URL is rebuilt from the request.
		status, ctype, body := e.postTwilio(path, authToken, e.URL()+path, form)
		if status != http.StatusOK || !strings.HasPrefix(ctype, "text/xml") || body != twilio.EmptyTwiML {
			t.Fatalf("answer %d %s %q, want 200 with empty TwiML", status, ctype, body)
		}
		e.postTwilio(path, authToken, e.URL()+path, form) // a redelivery

		var m parley.Message
		waitFor(t, func() bool {
			var err error
			m, err = e.Store.MessageByChannelID(context.Background(), ch.ID, sid)
			return err == nil
		})
		e.settled()
		conv := e.conversation(m.ConversationID)
		if m.Content != "Is my order ready?" || conv.CustomerID != cust.ID || conv.ChannelID != ch.ID || conv.ContactPhone != anaE164 {
			t.Fatalf("message %+v in conversation %+v", m, conv)
		}
		if got := eventNames(e.events(conv.ID)); !slices.Equal(got, []string{event.TextMessageReceived, event.TextMessageWithUserInfoReceived}) {
			t.Fatalf("events = %v (a redelivery must not add any)", got)
		}
		if n := len(e.messages(conv.ID)); n != 1 {
			t.Fatalf("%d messages, want 1", n)
		}
	})
}

func TestTwilioWebhookRefusals(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e *env) {
		ch := e.twilioChannel()
		path := "/webhooks/twilio/" + ch.ID
		good := e.URL() + path
		form := twiliotest.InboundText(accountSID, anaE164, ourNumber, "Ana", "hi")
		foreign := twiliotest.InboundText("AC99999999999999999999999999999999", anaE164, ourNumber, "Ana", "hi")
		big := twiliotest.InboundText(accountSID, anaE164, ourNumber, "Ana", strings.Repeat("a", 1<<20))
		cases := []struct {
			name, path, token, signedURL string
			form                         url.Values
			status                       int
			code                         string
		}{
			{"another token", path, "guess", good, form, 401, "unauthorized"},
			{"another URL", path, authToken, e.URL() + "/webhooks/twilio/other", form, 401, "unauthorized"},
			{"unknown channel", "/webhooks/twilio/01a1fe28-c30f-7926-a8b6-8bc2bc66b117", authToken, good, form, 404, "not_found"},
			{"not a channel id", "/webhooks/twilio/nope", authToken, good, form, 404, "not_found"},
			{"a WhatsApp channel", "/webhooks/twilio/" + e.ch.ID, authToken, e.URL() + "/webhooks/twilio/" + e.ch.ID, form, 404, "not_found"},
			{"another account", path, authToken, good, foreign, 403, "forbidden"},
			{"over 1 MiB", path, authToken, good, big, 413, "payload_too_large"},
		}
		for _, c := range cases {
			status, _, body := e.postTwilio(c.path, c.token, c.signedURL, c.form)
			if status != c.status || !strings.Contains(body, `"code":"`+c.code+`"`) {
				t.Errorf("%s: %d %s, want %d %s", c.name, status, body, c.status, c.code)
			}
		}
		// Signed but unusable: 400, visible in Twilio's debugger.
		bad := twiliotest.InboundText(accountSID, "12", ourNumber, "Ana", "hi")
		if status, _, body := e.postTwilio(path, authToken, good, bad); status != 400 || !strings.Contains(body, "invalid_request") {
			t.Errorf("unusable payload: %d %s, want 400", status, body)
		}
		if got := e.metric("twilio", "bad_signature"); got != 2 {
			t.Errorf("bad_signature counter = %v, want 2", got)
		}
		items, _ := e.Store.InboxByChannel(context.Background(), e.tenant.ID, ch.ID)
		if len(items) != 0 || len(e.conversations()) != 0 || len(e.receivedJobs()) != 0 {
			t.Fatal("a refused Twilio webhook stored something")
		}
	})
}

// With PARLEY_PUBLIC_URL set, the signature covers that URL, not the
// address the request reached (behind a proxy or tunnel).
func TestTwilioSignatureUsesThePublicURL(t *testing.T) {
	t.Parallel()
	e := start(t, store.SQLite, func(c *config.Config) { c.PublicURL = "https://parley.example.com" })
	ch := e.twilioChannel()
	path := "/webhooks/twilio/" + ch.ID
	form := twiliotest.InboundText(accountSID, anaE164, ourNumber, "Ana", "hi")
	if status, _, body := e.postTwilio(path, authToken, e.URL()+path, form); status != 401 {
		t.Fatalf("signed for the local address: %d %s, want 401", status, body)
	}
	if status, _, body := e.postTwilio(path, authToken, "https://parley.example.com"+path, form); status != 200 {
		t.Fatalf("signed for the public URL: %d %s, want 200", status, body)
	}
}

func TestTwilioStatusCallbacks(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e *env) {
		ch := e.twilioChannel()
		path := "/webhooks/twilio/" + ch.ID
		conv, err := e.Store.CreateConversation(context.Background(), parley.Conversation{TenantID: e.tenant.ID, ContactPhone: anaE164, ChannelID: ch.ID})
		if err != nil {
			t.Fatal(err)
		}
		insert := func(sid string, st parley.DeliveryStatus) parley.Message {
			m, err := e.Store.InsertMessage(context.Background(), parley.Message{TenantID: e.tenant.ID, ConversationID: conv.ID, Role: parley.RoleAI,
				Content: "hi", ChannelID: ch.ID, ChannelMessageID: sid, Status: st})
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		callback := func(p, sid, status string, code int) {
			t.Helper()
			form := twiliotest.StatusCallback(accountSID, sid, status, code, ourNumber, anaE164)
			if s, _, body := e.postTwilio(p, authToken, e.URL()+p, form); s != 200 {
				t.Fatalf("status %s: %d %s", status, s, body)
			}
		}
		get := func(id string) parley.Message {
			m, _ := e.Store.GetMessage(context.Background(), e.tenant.ID, id)
			return m
		}

		ok := insert("SM00000000000000000000000000000001", parley.StatusSent)
		callback(path, ok.ChannelMessageID, "read", 0)
		callback(path, ok.ChannelMessageID, "delivered", 0) // late: ignored
		if got := get(ok.ID); got.Status != parley.StatusRead {
			t.Fatalf("status = %s, want read", got.Status)
		}
		bad := insert("SM00000000000000000000000000000002", parley.StatusSent)
		callback(path, bad.ChannelMessageID, "undelivered", 63016)
		if got := get(bad.ID); got.Status != parley.StatusFailed || got.ErrorCode != "63016" || !strings.Contains(got.ErrorReason, "24-hour") {
			t.Fatalf("undelivered message = %s %q %q", got.Status, got.ErrorCode, got.ErrorReason)
		}
		// The callback URL the sender sets names our message, for a
		// status that arrives before the send job recorded the sid. The
		// message is queued and held by a sender that has not finished:
		// inserted and claimed in one transaction, so this app's own send
		// stage never takes it.
		var racing parley.Message
		if err := e.Store.InTx(context.Background(), func(q *store.Queries) error {
			m, err := q.InsertMessage(context.Background(), parley.Message{TenantID: e.tenant.ID, ConversationID: conv.ID, Role: parley.RoleAI,
				Content: "hi", ChannelID: ch.ID, Status: parley.StatusQueued})
			if err != nil {
				return err
			}
			racing = m
			claims, err := q.ClaimSends(context.Background(), "in-flight elsewhere", 1, time.Hour)
			if err == nil && (len(claims) != 1 || claims[0].Message.ID != m.ID) {
				err = fmt.Errorf("claimed %d messages, want the racing one", len(claims))
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		callback(path+"?message_id="+racing.ID, "SM00000000000000000000000000000003", "sent", 0)
		if got := get(racing.ID); got.Status != parley.StatusSent || got.ChannelMessageID != "SM00000000000000000000000000000003" {
			t.Fatalf("racing message = %s %q", got.Status, got.ChannelMessageID)
		}
		failed := 0
		for _, ev := range e.events(conv.ID) {
			if ev.Name == event.MessageSendFailed {
				failed++
			}
		}
		if failed != 1 {
			t.Fatalf("%d Message Send Failed events, want 1", failed)
		}
	})
}

// Every inbound fixture of the Twilio package goes through to a
// conversation as the parser reads it.
func TestTwilioFixturesEndToEnd(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e *env) {
		ch := e.twilioChannel()
		path := "/webhooks/twilio/" + ch.ID
		files, _ := filepath.Glob(filepath.Join("..", "channel", "twilio", "testdata", "inbound_*.form"))
		if len(files) == 0 {
			t.Fatal("no fixtures")
		}
		for _, f := range files {
			form := twilioFixture(t, f)
			sid := form.Get("MessageSid")
			fresh := sid[:2] + twiliotest.NewSID("")[:32] // one message per fixture
			for _, k := range []string{"MessageSid", "SmsSid", "SmsMessageSid"} {
				if form.Has(k) {
					form.Set(k, fresh)
				}
			}
			want, err := twilio.Parse(form)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if status, _, body := e.postTwilio(path, authToken, e.URL()+path, form); status != 200 {
				t.Fatalf("%s: %d %s", f, status, body)
			}
			var m parley.Message
			waitFor(t, func() bool {
				m, err = e.Store.MessageByChannelID(context.Background(), ch.ID, fresh)
				return err == nil
			})
			if m.Type != want.Inbound.Type || m.Content != want.Inbound.Content {
				t.Errorf("%s: stored %s %q, want %s %q", filepath.Base(f), m.Type, m.Content, want.Inbound.Type, want.Inbound.Content)
			}
		}
	})
}

func twilioFixture(t *testing.T, path string) url.Values {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pairs []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			pairs = append(pairs, line)
		}
	}
	form, err := url.ParseQuery(strings.Join(pairs, "&"))
	if err != nil {
		t.Fatal(err)
	}
	return form
}

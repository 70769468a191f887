package channel_test

import (
	"context"
	"maps"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/twilio/twiliotest"
)

// On a Twilio channel each kind goes through the Messages API as the spec
// shows: Body for text, ContentSid + ContentVariables for a template,
// numbered text for buttons; every message asks for its statuses at our
// webhook with its own id in the URL.
func TestTwilioSendsEachKindExactly(t *testing.T) {
	t.Parallel()
	buttons := channel.WithInteractive(parley.Message{Content: "How did we do?"}, channel.Interactive{
		Buttons: []channel.Choice{{ID: "csat_5", Title: "Great"}, {ID: "csat_1", Title: "Bad"}},
	})
	cases := []struct {
		name      string
		msg       parley.Message
		body      string
		content   string
		variables map[string]string
	}{
		{"text", parley.Message{Content: "Your order #881 is ready."}, "Your order #881 is ready.", "", nil},
		{"template", parley.Message{Template: &parley.Template{Name: "HX0123456789abcdef0123456789abcdef", Language: "pt_BR", Parameters: []string{"Ana", "#881"}}},
			"", "HX0123456789abcdef0123456789abcdef", map[string]string{"1": "Ana", "2": "#881"}},
		{"buttons as text", buttons, "How did we do?\n1. Great\n2. Bad", "", nil},
	}
	eachSender(t, func(t *testing.T, e *env) {
		conv := e.open(e.twc(), anaE164, ago(time.Minute))
		for i, c := range cases {
			m := e.queue(conv, c.msg)
			got, err := e.twilio.WaitForMessages(context.Background(), i+1)
			if err != nil {
				t.Fatal(err)
			}
			sent := got[i]
			if sent.AccountSID != accountSID || sent.From != "whatsapp:"+ourNumber || sent.To != "whatsapp:"+anaE164 {
				t.Fatalf("%s: account %s from %s to %s", c.name, sent.AccountSID, sent.From, sent.To)
			}
			if sent.Body != c.body || sent.ContentSID != c.content || !maps.Equal(sent.ContentVariables, c.variables) {
				t.Fatalf("%s: body %q content %q variables %v; want %q %q %v", c.name, sent.Body, sent.ContentSID, sent.ContentVariables, c.body, c.content, c.variables)
			}
			cb, err := url.Parse(sent.StatusCallback)
			if err != nil || cb.Scheme+"://"+cb.Host != publicURL || cb.Path != "/webhooks/twilio/"+e.twc().ID || cb.Query().Get("message_id") != m.ID {
				t.Fatalf("%s: status callback %q", c.name, sent.StatusCallback)
			}
			if stored := e.until(m.ID, parley.StatusSent); stored.ChannelMessageID != sent.SID {
				t.Fatalf("%s: stored sid %q, Twilio answered %q", c.name, stored.ChannelMessageID, sent.SID)
			}
		}
	})
}

func TestTwilioRetriesAndFailures(t *testing.T) {
	t.Parallel()
	eachSender(t, func(t *testing.T, e *env) {
		conv := e.open(e.twc(), anaE164, ago(time.Minute))

		// 429 then success: sent once.
		e.twilio.FailNext(twiliotest.TooManyRequests("20"))
		m := e.queue(conv, parley.Message{Content: "hello"})
		if st := e.retrying(m.ID, 1); st.NextAt.Sub(e.clk.Now()) < 20*time.Second {
			t.Fatalf("retry at %v, want after the Retry-After", st.NextAt)
		}
		e.clk.Advance(21 * time.Second)
		e.until(m.ID, parley.StatusSent)
		if n := len(e.twilio.Messages()); n != 1 {
			t.Fatalf("%d messages accepted, want 1", n)
		}

		// A refused recipient: failed with Twilio's code, not retried.
		e.twilio.FailNext(twiliotest.Failure{Status: 400, Code: 21211, Message: "The 'To' number is not a valid phone number."})
		bad := e.queue(conv, parley.Message{Content: "hello again"})
		failed := e.until(bad.ID, parley.StatusFailed)
		if failed.ErrorCode != "21211" || !strings.Contains(failed.ErrorReason, "not a valid phone number") {
			t.Fatalf("failed with %q %q", failed.ErrorCode, failed.ErrorReason)
		}
		e.failedEvent(conv.ID, bad.ID)
		if st := e.sendState(bad.ID); st.Attempts != 1 {
			t.Fatalf("attempts = %d, want 1", st.Attempts)
		}

		// Outside the window nothing reaches Twilio; a template name that is
		// not a ContentSid is refused as invalid.
		before := e.twilio.Requests()
		stale := e.open(e.twc(), "+5511988887777", ago(48*time.Hour))
		out := e.queue(stale, parley.Message{Content: "still there?"})
		if got := e.until(out.ID, parley.StatusFailed); got.ErrorCode != channel.CodeOutsideWindow {
			t.Fatalf("outside the window: %q", got.ErrorCode)
		}
		tpl := e.queue(stale, parley.Message{Template: &parley.Template{Name: "order_ready", Language: "en"}})
		if got := e.until(tpl.ID, parley.StatusFailed); got.ErrorCode != channel.CodeInvalidMessage || !strings.Contains(got.ErrorReason, "Content SID") {
			t.Fatalf("a WhatsApp-style template on Twilio: %q %q", got.ErrorCode, got.ErrorReason)
		}
		if n := e.twilio.Requests(); n != before {
			t.Fatalf("%d requests reached Twilio, want none", n-before)
		}
	})
}

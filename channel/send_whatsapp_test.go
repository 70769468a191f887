package channel_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
)

// Each kind of outbound message reaches the Graph API exactly as the spec
// shows it, and the message keeps the wamid Meta answered with.
func TestWhatsAppSendsEachKindExactly(t *testing.T) {
	t.Parallel()
	survey := channel.WithInteractive(parley.Message{Content: "How did we do?"}, channel.Interactive{
		Footer:  "Reply with a button",
		Buttons: []channel.Choice{{ID: "csat_5", Title: "Great"}, {ID: "csat_1", Title: "Bad"}},
	})
	slots := channel.WithInteractive(parley.Message{Content: "Pick a time"}, channel.Interactive{
		ListButton: "Times",
		Sections:   []channel.Section{{Title: "Tomorrow", Rows: []channel.Choice{{ID: "slot_10am", Title: "10:00", Description: "Morning"}, {ID: "slot_3pm", Title: "15:00"}}}},
	})
	cases := []struct {
		name string
		msg  parley.Message
		want whatsapptest.SentMessage // ID, PhoneNumberID, Body and CallbackData are checked apart
	}{
		{"text", parley.Message{Content: "Your order #881 is ready."},
			whatsapptest.SentMessage{To: anaE164, Type: "text", Text: "Your order #881 is ready."}},
		{"text quoting", parley.Message{Content: "Yes, this one.", Extra: map[string]any{channel.ExtraReplyTo: "wamid.HBgNAAA1"}},
			whatsapptest.SentMessage{To: anaE164, Type: "text", Text: "Yes, this one.", ReplyTo: "wamid.HBgNAAA1"}},
		{"template", parley.Message{Template: &parley.Template{Name: "order_ready", Language: "pt_BR", Parameters: []string{"Ana", "#881"}},
			Extra: map[string]any{channel.ExtraTemplateButtonPayloads: []any{"CONFIRM_881"}}},
			whatsapptest.SentMessage{To: anaE164, Type: "template",
				Template: &whatsapptest.Template{Name: "order_ready", Language: "pt_BR", BodyParams: []string{"Ana", "#881"}, ButtonPayloads: []string{"CONFIRM_881"}}}},
		{"buttons", survey,
			whatsapptest.SentMessage{To: anaE164, Type: "interactive", Text: "How did we do?",
				Interactive: &whatsapptest.Interactive{Type: "button", Footer: "Reply with a button",
					Choices: []whatsapptest.Choice{{ID: "csat_5", Title: "Great"}, {ID: "csat_1", Title: "Bad"}}}}},
		{"list", slots,
			whatsapptest.SentMessage{To: anaE164, Type: "interactive", Text: "Pick a time",
				Interactive: &whatsapptest.Interactive{Type: "list", Button: "Times",
					Choices: []whatsapptest.Choice{{ID: "slot_10am", Title: "10:00", Description: "Morning", Section: "Tomorrow"}, {ID: "slot_3pm", Title: "15:00", Section: "Tomorrow"}}}}},
	}
	eachSender(t, func(t *testing.T, e *env) {
		conv := e.open(e.wa, anaE164, ago(time.Minute))
		for i, c := range cases {
			m := e.queue(conv, c.msg)
			sent, err := e.graph.WaitSent(context.Background(), i+1)
			if err != nil {
				t.Fatal(err)
			}
			got := sent[i]
			if got.PhoneNumberID != pnID || got.CallbackData != m.ID {
				t.Fatalf("%s: sent from %s with callback %q, want %s and the message id", c.name, got.PhoneNumberID, got.CallbackData, pnID)
			}
			got.ID, got.PhoneNumberID, got.Body, got.CallbackData = "", "", nil, ""
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("%s: the fake got\n%+v\nwant\n%+v", c.name, got, c.want)
			}
			stored := e.until(m.ID, parley.StatusSent)
			if stored.ChannelMessageID != sent[i].ID {
				t.Fatalf("%s: stored wamid %q, Meta answered %q", c.name, stored.ChannelMessageID, sent[i].ID)
			}
		}
	})
}

// The 24-hour rule: free-form outside the window is refused before any
// HTTP call, the message failed with a clear reason; a template still goes.
func TestOutsideTheWindowOnlyTemplatesGo(t *testing.T) {
	t.Parallel()
	eachSender(t, func(t *testing.T, e *env) {
		stale := e.open(e.wa, anaE164, ago(25*time.Hour))
		never := e.open(e.wa, "+5511988887777", nil)
		for _, conv := range []parley.Conversation{stale, never} {
			m := e.queue(conv, parley.Message{Content: "Still there?"})
			failed := e.until(m.ID, parley.StatusFailed)
			if failed.ErrorCode != channel.CodeOutsideWindow || !strings.Contains(failed.ErrorReason, "24-hour") {
				t.Fatalf("refused message = %q %q", failed.ErrorCode, failed.ErrorReason)
			}
			if ev := e.failedEvent(conv.ID, m.ID); ev["error_code"] != channel.CodeOutsideWindow {
				t.Fatalf("event = %v", ev)
			}
		}
		if n := e.graph.Requests(); n != 0 {
			t.Fatalf("%d requests reached Meta, want none", n)
		}
		tpl := e.queue(stale, parley.Message{Template: &parley.Template{Name: "follow_up", Language: "en"}})
		e.until(tpl.ID, parley.StatusSent)
		if sent := e.graph.Sent(); len(sent) != 1 || sent[0].Type != "template" {
			t.Fatalf("sent = %+v, want the template only", sent)
		}
	})
}

func TestCheckWindow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	text, tpl := parley.Message{Content: "hi"}, parley.Message{Template: &parley.Template{Name: "x", Language: "en"}}
	cases := []struct {
		name string
		last *time.Time
		msg  parley.Message
		ok   bool
	}{
		{"just wrote", at(time.Minute), text, true},
		{"exactly 24 h", at(24 * time.Hour), text, true},
		{"24 h and a second", at(24*time.Hour + time.Second), text, false},
		{"never wrote", nil, text, false},
		{"template, never wrote", nil, tpl, true},
		{"template, long ago", at(30 * 24 * time.Hour), tpl, true},
	}
	for _, c := range cases {
		err := channel.CheckWindow(parley.ChannelWhatsApp, parley.Conversation{LastCustomerMessageAt: c.last}, c.msg, now)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, parley.ErrOutsideWindow)) {
			t.Errorf("%s: err = %v, want ok=%v (errors.Is ErrOutsideWindow when refused)", c.name, err, c.ok)
		}
	}
}

// Instagram's window: 24 hours for anything, 7 days for a person's
// reply, never a template.
func TestCheckWindowInstagram(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	ai := parley.Message{Role: parley.RoleAI, Content: "hi"}
	human := parley.Message{Role: parley.RoleAgent, Content: "hi"}
	tpl := parley.Message{Role: parley.RoleAI, Template: &parley.Template{Name: "x", Language: "en"}}
	cases := []struct {
		name string
		last *time.Time
		msg  parley.Message
		ok   bool
	}{
		{"AI, 23 h", at(23 * time.Hour), ai, true},
		{"AI, 25 h", at(25 * time.Hour), ai, false},
		{"person, day 3", at(3 * 24 * time.Hour), human, true},
		{"person, exactly 7 days", at(7 * 24 * time.Hour), human, true},
		{"person, day 8", at(8 * 24 * time.Hour), human, false},
		{"person, never wrote", nil, human, false},
		{"template, just wrote", at(time.Minute), tpl, false},
	}
	for _, c := range cases {
		err := channel.CheckWindow(parley.ChannelInstagram, parley.Conversation{LastCustomerMessageAt: c.last}, c.msg, now)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, parley.ErrOutsideInstagramWindow)) {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

// 429 then success: retried with backoff (at least the Retry-After), and
// delivered once.
func TestRateLimitedSendIsRetriedAndSentOnce(t *testing.T) {
	t.Parallel()
	eachSender(t, func(t *testing.T, e *env) {
		e.graph.Script(whatsapptest.RateLimited("30"))
		conv := e.open(e.wa, anaE164, ago(time.Minute))
		m := e.queue(conv, parley.Message{Content: "Your order is ready."})
		st := e.retrying(m.ID, 1)
		if wait := st.NextAt.Sub(e.clk.Now()); wait < 30*time.Second {
			t.Fatalf("retry in %v, want at least the Retry-After of 30s", wait)
		}
		if got := e.get(m.ID); got.Status != parley.StatusQueued {
			t.Fatalf("after a 429 the message is %s, want still queued", got.Status)
		}
		e.clk.Advance(31 * time.Second)
		sent := e.until(m.ID, parley.StatusSent)
		if all := e.graph.Sent(); len(all) != 1 || all[0].ID != sent.ChannelMessageID {
			t.Fatalf("accepted sends = %d, want exactly 1", len(all))
		}
		if n := e.graph.Requests(); n != 2 {
			t.Fatalf("%d requests, want 2 (the 429 and the send)", n)
		}
	})
}

// Permanent errors fail the message with Meta's code, log it, and end the
// job without retry; a server error is retried instead.
func TestPermanentErrorsFailTheMessage(t *testing.T) {
	t.Parallel()
	for _, code := range []int{131026, 131047, 132000, 190} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			t.Parallel()
			eachSender(t, func(t *testing.T, e *env) {
				e.graph.Script(whatsapptest.ErrorCode(code))
				conv := e.open(e.wa, anaE164, ago(time.Minute))
				m := e.queue(conv, parley.Message{Content: "hello"})
				failed := e.until(m.ID, parley.StatusFailed)
				want := whatsapptest.ErrorCode(code)
				if failed.ErrorCode != strconv.Itoa(code) || !strings.Contains(failed.ErrorReason, want.Message) {
					t.Fatalf("failed with %q %q, want code %d and Meta's message", failed.ErrorCode, failed.ErrorReason, code)
				}
				if ev := e.failedEvent(conv.ID, m.ID); ev["error_code"] != strconv.Itoa(code) {
					t.Fatalf("event = %v", ev)
				}
				if st := e.sendState(m.ID); st.Attempts != 1 {
					t.Fatalf("attempts = %d, want 1 (never retried)", st.Attempts)
				}
				if n := e.graph.Requests(); n != 1 {
					t.Fatalf("%d requests, want 1", n)
				}
			})
		})
	}
}

func TestServerErrorIsRetried(t *testing.T) {
	t.Parallel()
	eachSender(t, func(t *testing.T, e *env) {
		e.graph.Script(whatsapptest.ServerError(503), whatsapptest.ErrorCode(131000))
		conv := e.open(e.wa, anaE164, ago(time.Minute))
		m := e.queue(conv, parley.Message{Content: "hello"})
		for attempt := 1; attempt <= 2; attempt++ {
			e.retrying(m.ID, attempt)
			e.clk.Advance(time.Hour) // past the backoff
		}
		e.until(m.ID, parley.StatusSent)
		if n := len(e.graph.Sent()); n != 1 {
			t.Fatalf("%d sends accepted, want 1", n)
		}
	})
}

// A send job of an older version, worked for a message already sent, only
// wakes the send stage: nothing is sent twice.
func TestSendIsIdempotent(t *testing.T) {
	t.Parallel()
	eachSender(t, func(t *testing.T, e *env) {
		conv := e.open(e.wa, anaE164, ago(time.Minute))
		m := e.queue(conv, parley.Message{Content: "once"})
		e.until(m.ID, parley.StatusSent)
		// Force a second job for the same message, as a rescue would.
		args := channel.SendMessageArgs{TenantID: e.tenant.ID, ConversationID: conv.ID, MessageID: m.ID}
		res, err := e.Jobs.Insert(context.Background(), args, &river.InsertOpts{UniqueOpts: river.UniqueOpts{}, Metadata: []byte(`{"again":true}`)})
		if err != nil {
			t.Fatal(err)
		}
		apptest.Eventually(t, "the second send job to complete", func() bool {
			j, err := e.Jobs.JobGet(context.Background(), res.Job.ID)
			return err == nil && j.State == rivertype.JobStateCompleted
		})
		if n := len(e.graph.Sent()); n != 1 {
			t.Fatalf("%d sends, want 1", n)
		}
	})
}

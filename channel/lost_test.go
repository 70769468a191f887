package channel_test

import (
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
)

// A send whose answer was lost (the connection dropped after the request
// went out) may have reached Meta. Its retry does not send again at once:
// it waits for the status webhook Meta posts for every accepted message,
// which names our message id. When the status comes, the message is sent
// once; when none comes within the wait, it is sent again.
func TestALostAnswerWaitsForTheStatus(t *testing.T) {
	t.Parallel()
	eachSender(t, func(t *testing.T, e *env) {
		conv := e.open(e.wa, anaE164, ago(time.Minute))

		// The status arrives: no second send.
		e.graph.Script(whatsapptest.Drop())
		m := e.queue(conv, parley.Message{Content: "did you get this?"})
		e.failedOnce(m.ID)
		e.clk.Advance(5 * time.Second) // past the first backoff: the retry finds the mark and waits
		e.waiting(m.ID)
		body := whatsapptest.StatusWebhook(whatsapptest.StatusEvent{PhoneNumberID: pnID, MessageID: "wamid.LOST1", Status: "sent",
			RecipientID: "5511999990000", Time: e.clk.Now(), CallbackData: m.ID})
		whatsapptest.MustPost(t, e.URL(), appSecret, body)
		e.clk.Advance(channel.DefaultStatusWait)
		if got := e.get(m.ID); got.Status != parley.StatusSent || got.ChannelMessageID != "wamid.LOST1" {
			t.Fatalf("message %s %q, want sent as wamid.LOST1", got.Status, got.ChannelMessageID)
		}
		if n := len(e.graph.Sent()); n != 0 {
			t.Fatalf("%d sends accepted after the status came, want none", n)
		}

		// No status comes: sent again once the wait is over.
		e.graph.Script(whatsapptest.Drop())
		m2 := e.queue(conv, parley.Message{Content: "and this?"})
		e.failedOnce(m2.ID)
		e.clk.Advance(5 * time.Second)
		e.waiting(m2.ID)
		if n := len(e.graph.Sent()); n != 0 {
			t.Fatalf("sent again before the wait was over")
		}
		e.clk.Advance(channel.DefaultStatusWait)
		e.until(m2.ID, parley.StatusSent)
		if n := len(e.graph.Sent()); n != 1 {
			t.Fatalf("%d sends, want 1", n)
		}

		// A refusal is an answer: the retry after a 429 does not wait.
		e.graph.Script(whatsapptest.RateLimited(""))
		m3 := e.queue(conv, parley.Message{Content: "one more"})
		e.failedOnce(m3.ID)
		e.clk.Advance(5 * time.Second)
		e.until(m3.ID, parley.StatusSent)
	})
}

// failedOnce waits for the message's first attempt to fail.
func (e *env) failedOnce(msgID string) { e.t.Helper(); e.retrying(msgID, 1) }

// waiting waits for the stage to put the message off until the status of
// the lost attempt may have come.
func (e *env) waiting(msgID string) {
	e.t.Helper()
	apptest.Eventually(e.t, "the message to wait for a status", func() bool {
		st := e.sendState(msgID)
		return st.Marked && !st.Leased && st.NextAt.After(e.clk.Now())
	})
}

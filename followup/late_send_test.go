package followup_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// heldBack stores an agent answer as the outbox does, but held back from
// the send stage for a day (as a long retry backoff would). It returns the
// message.
func (e *env) heldBack(conv parley.Conversation, text string) parley.Message {
	e.t.Helper()
	return e.writeAsAgent(conv, func(ctx context.Context, q *store.Queries, c parley.Conversation) (parley.Message, error) {
		msg, err := q.InsertMessage(ctx, parley.Message{TenantID: c.TenantID, ConversationID: c.ID, Role: parley.RoleAI, Content: text,
			ChannelID: c.ChannelID, Status: parley.StatusQueued})
		if err != nil {
			return msg, err
		}
		// Not due for a day: the send stage leaves it alone meanwhile.
		if _, err := q.Tx().ExecContext(ctx, `UPDATE messages SET send_next_at = $1 WHERE id = $2`,
			msg.CreatedAt.Add(24*time.Hour).UnixMicro(), msg.ID); err != nil {
			return msg, err
		}
		if err := q.TouchOutbound(ctx, c.TenantID, c.ID, msg.CreatedAt); err != nil {
			return msg, err
		}
		at := msg.CreatedAt
		c.LastAgentMessageAt = &at
		return msg, e.p.FollowUps.OnAgentMessage(ctx, q, c, msg)
	})
}

// attempt marks msg as being sent by attempt at the clock's now, as the
// sender does before it calls the provider.
func (e *env) attempt(msg parley.Message, attempt string) {
	e.t.Helper()
	if ok, err := e.p.Store.MarkSending(context.Background(), msg.TenantID, msg.ID, attempt); err != nil || !ok {
		e.t.Fatalf("mark sending: %v, %v", ok, err)
	}
}

// goesOut records msg as taken by the provider at the clock's now, as the
// sender does: its attempt's mark, then the provider id.
func (e *env) goesOut(msg parley.Message) {
	e.t.Helper()
	ctx := context.Background()
	e.attempt(msg, "late.2")
	err := e.p.Store.InTx(ctx, func(q *store.Queries) error {
		_, err := q.AdvanceMessageDelivery(ctx, msg.TenantID, msg.ID, store.MessageUpdate{ChannelMessageID: "wamid.late." + msg.ID, Status: parley.StatusSent})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// An answer that reaches the customer late (a crash held it back) starts
// the follow-up clock when it goes out: the customer is not asked "still
// there?" about a message they have only just received.
func TestFollowUpClockStartsWhenALateAnswerGoesOut(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		e.rule(map[string]any{"title": "Nudge", "message": "Still there?", "delay": "30m"})
		conv := e.customerWrites("+5511999990011", "Do you ship to Lisbon?")
		msg := e.heldBack(conv, "We do, in 3 days.")

		// Due by the queueing, but the answer has not gone out.
		e.clk.Advance(31 * time.Minute)
		e.request(conv)
		if got := e.followUps(conv); len(got) != 0 {
			t.Fatalf("follow-up sent while the answer was still queued: %+v", got)
		}

		// An attempt calls the provider and dies with its process: the
		// message is still not known to be out.
		e.clk.Advance(4 * time.Minute)
		e.attempt(msg, "late.1")
		e.request(conv)
		if got := e.followUps(conv); len(got) != 0 {
			t.Fatalf("follow-up sent while an attempt at the answer was under way: %+v", got)
		}

		// The retry takes it out 40 minutes late: the 30 minutes count from then.
		e.clk.Advance(5 * time.Minute)
		sentAt := e.clk.Now()
		e.goesOut(msg)
		e.clk.Advance(29 * time.Minute)
		e.request(conv)
		if got := e.followUps(conv); len(got) != 0 {
			t.Fatalf("follow-up sent 29 minutes after the late answer went out: %+v", got)
		}
		e.clk.Advance(time.Minute)
		e.request(conv)
		got := e.followUps(conv)
		if len(got) != 1 || got[0].Content != "Still there?" || !got[0].CreatedAt.Equal(sentAt.Add(30*time.Minute)) {
			t.Fatalf("follow-ups = %+v, want one at %s", got, sentAt.Add(30*time.Minute))
		}
	})
}

// A send a few seconds late is the ordinary case: the clock still counts
// from the queueing.
func TestFollowUpClockIgnoresAPromptSend(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		e.rule(map[string]any{"title": "Nudge", "message": "Still there?", "delay": "30m"})
		conv := e.customerWrites("+5511999990012", "Do you ship to Porto?")
		queued := e.clk.Now()
		msg := e.heldBack(conv, "We do, in 2 days.")
		e.clk.Advance(2 * time.Second)
		e.goesOut(msg)
		e.clk.Advance(30*time.Minute - 2*time.Second)
		e.request(conv)
		got := e.followUps(conv)
		if len(got) != 1 || !got[0].CreatedAt.Equal(queued.Add(30*time.Minute)) {
			t.Fatalf("follow-ups = %+v, want one at %s", got, queued.Add(30*time.Minute))
		}
	})
}

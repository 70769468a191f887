package followup_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

func TestFiresAfterTheDelayAndNotBefore(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		ruleID := e.rule(map[string]any{"title": "Nudge", "message": "Still there? Happy to help.", "delay": "30m"})
		conv := e.customerWrites("+5511999990001", "Do you deliver on Sundays?")
		e.agentWrites(conv, "We do, until 6pm.")

		e.clk.Advance(29 * time.Minute)
		e.request(conv)
		if got := e.followUps(conv); len(got) != 0 {
			t.Fatalf("follow-up sent after 29 minutes: %+v", got)
		}

		// The job scheduled with the agent message fires by itself.
		e.clk.Advance(time.Minute)
		apptest.Eventually(t, "the scheduled follow-up", func() bool { return len(e.followUps(conv)) == 1 })
		msg := e.followUps(conv)[0]
		if msg.Content != "Still there? Happy to help." || msg.Role != "ai" || !msg.CreatedAt.Equal(start.Add(30*time.Minute)) {
			t.Fatalf("follow-up = %+v", msg)
		}
		// Queued through the outbox, whose sender takes it at once (this
		// env's channel has no real number, so it may have failed already).
		queued := 0
		for _, ev := range e.events(conv, event.SendTextMessage) {
			if ev.Payload["message_id"] == msg.ID {
				queued++
			}
		}
		if queued != 1 {
			t.Fatalf("the follow-up was queued %d times, want once", queued)
		}
		sent := e.events(conv, followup.EventSent)
		if len(sent) != 1 || sent[0].Payload["rule_id"] != ruleID || sent[0].Payload["message_id"] != msg.ID || sent[0].Payload["decision"] != "sent" {
			t.Fatalf("sent events = %+v", sent)
		}
		if st := e.stats(ruleID); st["sent"] != 1.0 {
			t.Fatalf("stats = %v", st)
		}
		if m := e.p.Do("GET", "/metrics", "", nil); !strings.Contains(string(m.Body), `parley_followups_sent_total{kind="text",survey=""} 1`) {
			t.Fatalf("metrics do not count the follow-up:\n%.3000s", m.Body)
		}
	})
}

func TestCustomerReplyStopsPendingFollowUps(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		e.rule(map[string]any{"title": "Nudge", "message": "Still there?", "delay": "30m"})
		e.rule(map[string]any{"title": "Later", "message": "Anything else?", "delay": "2h"})
		conv := e.customerWrites("+5511999990002", "Hi")
		e.agentWrites(conv, "Hello! How can I help?")
		if due, _ := e.p.Store.FollowUpDue(context.Background(), conv.ID); due == nil || !due.Equal(start.Add(30*time.Minute)) {
			t.Fatalf("due after the agent message = %v", due)
		}

		e.clk.Advance(10 * time.Minute)
		e.customerWrites("+5511999990002", "Thinking about it")
		if due, _ := e.p.Store.FollowUpDue(context.Background(), conv.ID); due != nil {
			t.Fatalf("still due after the customer wrote: %v", due)
		}
		e.clk.Advance(5 * time.Hour)
		e.request(conv)
		if got := e.followUps(conv); len(got) != 0 {
			t.Fatalf("follow-up sent after the customer replied: %+v", got)
		}
		if got := e.events(conv, followup.EventSent, followup.EventSkipped); len(got) != 0 {
			t.Fatalf("decisions logged after the customer replied: %+v", got)
		}
	})
}

package followup_test

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

func TestOncePerSessionWithASilentCustomer(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		ruleID := e.rule(map[string]any{"title": "Nudge", "message": "Still there?", "delay": "30m"})
		conv := e.customerWrites("+5511999990003", "How much is shipping?")
		e.agentWrites(conv, "Shipping is free over 50€.")
		e.clk.Advance(31 * time.Minute)
		e.request(conv)
		for _, wait := range []time.Duration{time.Hour, 24 * time.Hour, 3 * 24 * time.Hour} {
			e.clk.Advance(wait)
			e.request(conv)
		}
		if got := e.followUps(conv); len(got) != 1 {
			t.Fatalf("%d follow-ups over four silent days, want 1", len(got))
		}

		// The customer writes: a new session, and the rule may fire again.
		e.customerWrites("+5511999990003", "And to Portugal?")
		e.agentWrites(conv, "Also free.")
		e.clk.Advance(30 * time.Minute)
		e.request(conv)
		if got := e.followUps(conv); len(got) != 2 {
			t.Fatalf("%d follow-ups after a second silent session, want 2", len(got))
		}
		if st := e.stats(ruleID); st["sent"] != 2.0 || st["replied"] != 0.0 {
			t.Fatalf("stats = %v", st)
		}
	})
}

func TestTwoRulesWithDifferentDelaysOnlyTheFirstFires(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		early := e.rule(map[string]any{"title": "Early", "message": "Any questions?", "delay": "30m"})
		late := e.rule(map[string]any{"title": "Late", "message": "Still interested?", "delay": "2h"})
		conv := e.customerWrites("+5511999990004", "I like the red one")
		e.agentWrites(conv, "Great choice!")

		e.clk.Advance(30 * time.Minute)
		e.request(conv)
		// Once per session: the first follow-up is the session's
		// only one, and it does not restart the late rule's clock.
		for _, wait := range []time.Duration{90 * time.Minute, 30 * time.Minute, 5 * 24 * time.Hour} {
			e.clk.Advance(wait)
			e.request(conv)
		}
		got := e.followUps(conv)
		if len(got) != 1 || got[0].Content != "Any questions?" || !got[0].CreatedAt.Equal(start.Add(30*time.Minute)) {
			t.Fatalf("follow-ups = %+v", got)
		}
		sent := e.events(conv, followup.EventSent)
		if len(sent) != 1 || sent[0].Payload["rule_id"] != early {
			t.Fatalf("sent events = %+v", sent)
		}
		if st := e.stats(late); st["sent"] != 0.0 {
			t.Fatalf("late rule stats = %v", st)
		}
	})
}

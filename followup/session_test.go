package followup_test

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/store"
)

func TestOncePerSessionWithASilentCustomer(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
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

func TestTwoRulesWithDifferentDelaysBothFireOnce(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		early := e.rule(map[string]any{"title": "Early", "message": "Any questions?", "delay": "30m"})
		late := e.rule(map[string]any{"title": "Late", "message": "Still interested?", "delay": "2h"})
		conv := e.customerWrites("+5511999990004", "I like the red one")
		e.agentWrites(conv, "Great choice!")

		e.clk.Advance(30 * time.Minute)
		e.request(conv)
		// The first follow-up is an agent message: the late rule's clock
		// starts again from it.
		e.clk.Advance(119 * time.Minute)
		e.request(conv)
		if got := e.followUps(conv); len(got) != 1 || got[0].Content != "Any questions?" {
			t.Fatalf("follow-ups after 2h29m = %+v", got)
		}
		e.clk.Advance(time.Minute)
		e.request(conv)
		e.clk.Advance(5 * 24 * time.Hour)
		e.request(conv)
		got := e.followUps(conv)
		if len(got) != 2 || got[1].Content != "Still interested?" || !got[1].CreatedAt.Equal(start.Add(150*time.Minute)) {
			t.Fatalf("follow-ups = %+v", got)
		}
		sent := e.events(conv, followup.EventSent)
		if len(sent) != 2 || sent[0].Payload["rule_id"] != early || sent[1].Payload["rule_id"] != late {
			t.Fatalf("sent events = %+v", sent)
		}
	})
}

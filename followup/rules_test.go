package followup_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

func TestEachBusinessRuleSkipsWithItsReason(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		ruleID := e.rule(map[string]any{"title": "Nudge", "message": "Still there?", "delay": "30m"})
		ctx := context.Background()
		cases := []struct {
			name   string
			phone  string
			before func(conv parley.Conversation)
			after  func()
			reason string
		}{
			{"closed conversation", "+5511999990010", func(conv parley.Conversation) {
				if err := e.p.Store.SetConversationStatus(ctx, e.tenant.ID, conv.ID, parley.ConversationClosed); err != nil {
					t.Fatal(err)
				}
			}, nil, followup.ReasonNotOpen},
			{"feature off", "+5511999990011", func(parley.Conversation) {
				e.patchTenant(map[string]any{"features": map[string]bool{"followups": false}})
			}, func() { e.patchTenant(map[string]any{"features": map[string]bool{"followups": true}}) }, followup.ReasonFeatureOff},
			{"upcoming appointment", "+5511999990012", func(conv parley.Conversation) {
				c, err := e.p.Store.CreateCustomer(ctx, parley.Customer{TenantID: e.tenant.ID, Phone: "+5511999990099", Name: "Ana"})
				if err != nil {
					t.Fatal(err)
				}
				if r := e.p.Do("POST", "/api/appointments", e.key, map[string]any{"customer_id": c.ID, "starts_at": e.clk.Now().Add(48 * time.Hour)}); r.Status != 201 {
					t.Fatalf("create appointment = %d %s", r.Status, r.Body)
				}
				e.patchTenant(map[string]any{"modules": []string{"APPOINTMENTS"}})
			}, nil, followup.ReasonAppointment},
			{"inactive channel", "+5511999990013", func(parley.Conversation) {
				e.channel.Active = false
				if err := e.p.Store.UpdateChannel(ctx, e.channel); err != nil {
					t.Fatal(err)
				}
			}, func() {
				e.channel.Active = true
				_ = e.p.Store.UpdateChannel(ctx, e.channel)
			}, followup.ReasonChannelInactive},
		}
		for _, tc := range cases {
			phone := tc.phone
			if tc.reason == followup.ReasonAppointment {
				phone = "+5511999990099" // the customer with the appointment
			}
			conv := e.customerWrites(phone, "Hello")
			e.agentWrites(conv, "Hi! How can I help?")
			tc.before(conv)
			e.clk.Advance(31 * time.Minute)
			e.request(conv)
			if got := e.followUps(conv); len(got) != 0 {
				t.Errorf("%s: follow-up sent: %+v", tc.name, got)
			}
			skipped := e.events(conv, followup.EventSkipped)
			if len(skipped) != 1 || skipped[0].Payload["reason"] != tc.reason || skipped[0].Payload["rule_id"] != ruleID {
				t.Errorf("%s: skipped events = %+v, want one with reason %s", tc.name, skipped, tc.reason)
			}
			if tc.after != nil {
				tc.after()
			}
		}
		st := e.stats(ruleID)
		skipped, _ := st["skipped"].(map[string]any)
		for _, tc := range cases {
			if skipped[tc.reason] != 1.0 {
				t.Errorf("stats skipped[%s] = %v (%v)", tc.reason, skipped[tc.reason], st)
			}
		}
	})
}

func TestTestSenderOnAnInactiveChannelIsFollowedUp(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		e.rule(map[string]any{"title": "Nudge", "message": "Still there?", "delay": "30m"})
		e.channel.Active, e.channel.TestSenders = false, []string{"+5511999990020"}
		if err := e.p.Store.UpdateChannel(context.Background(), e.channel); err != nil {
			t.Fatal(err)
		}
		tester := e.customerWrites("+5511999990020", "Testing")
		other := e.customerWrites("+5511999990021", "Hello")
		e.agentWrites(tester, "Hi tester")
		e.agentWrites(other, "Hi")
		e.clk.Advance(30 * time.Minute)
		e.request(tester)
		e.request(other)
		if got := e.followUps(tester); len(got) != 1 {
			t.Fatalf("test sender got %d follow-ups, want 1", len(got))
		}
		if got := e.followUps(other); len(got) != 0 {
			t.Fatalf("a customer on the inactive channel got %d follow-ups", len(got))
		}
	})
}

func TestDueAtNightWaitsForTheMorningAcrossDST(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		hours := []map[string]string{{"start": "09:00", "end": "18:00"}}
		week := map[string]any{}
		for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"} {
			week[d] = hours
		}
		e.patchTenant(map[string]any{"time_zone": "America/New_York", "availability": week})
		e.rule(map[string]any{"title": "Nudge", "message": "Still there?", "delay": "2h"})

		// Saturday 9 March 2030, 17:00 EST. New York springs forward that
		// night: Sunday's 09:00 is EDT, 13:00 UTC (not 14:00).
		e.clk.Set(time.Date(2030, 3, 9, 22, 0, 0, 0, time.UTC))
		conv := e.customerWrites("+12125550100", "Do you open on Sunday?")
		e.agentWrites(conv, "Yes, from 9.")
		e.clk.Advance(2 * time.Hour) // 19:00 EST: closed
		e.request(conv)
		e.request(conv) // asked twice (or the scheduled request beside one asked for): delayed once
		morning := time.Date(2030, 3, 10, 13, 0, 0, 0, time.UTC)
		delayed := e.events(conv, followup.EventDelayed)
		if len(delayed) != 1 || delayed[0].Payload["until"] != morning.Format(time.RFC3339) || delayed[0].Payload["reason"] != followup.ReasonOutsideHours {
			t.Fatalf("delayed events = %+v", delayed)
		}
		if got := e.followUps(conv); len(got) != 0 {
			t.Fatalf("sent at night: %+v", got)
		}
		// A rule saved now reaches this silence too: its backfill asks at
		// once, and the answer is the same delay, not a second one.
		e.rule(map[string]any{"title": "Sooner", "message": "Hello?", "delay": "1h"})
		e.p.Settle()
		if delayed := e.events(conv, followup.EventDelayed); len(delayed) != 1 {
			t.Fatalf("after a new rule: %d delayed events, want 1", len(delayed))
		}
		e.clk.Set(morning.Add(-time.Minute))
		e.request(conv)
		if got := e.followUps(conv); len(got) != 0 {
			t.Fatalf("sent at 08:59 EDT: %+v", got)
		}
		e.clk.Set(morning)
		waitFor(t, "the morning follow-up", func() bool { return len(e.followUps(conv)) == 1 })
		if got := e.followUps(conv)[0]; !got.CreatedAt.Equal(morning) {
			t.Fatalf("sent at %s, want %s", got.CreatedAt, morning)
		}
	})
}

func TestOutsideThe24HourWindow(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		ruleID := e.rule(map[string]any{"title": "Next day", "message": "Still interested?", "delay": "23h"})
		conv := e.customerWrites("+5511999990030", "I'll think about it")
		e.clk.Advance(2 * time.Hour)
		e.agentWrites(conv, "Sure, take your time.")
		e.clk.Advance(23 * time.Hour) // 25 hours after the customer wrote
		e.request(conv)
		skipped := e.events(conv, followup.EventSkipped)
		if len(e.followUps(conv)) != 0 || len(skipped) != 1 || skipped[0].Payload["reason"] != followup.ReasonOutsideWindow {
			t.Fatalf("without a template: follow-ups %+v, skipped %+v", e.followUps(conv), skipped)
		}

		if r := e.p.Do("PATCH", "/api/followup-rules/"+ruleID, e.key, map[string]any{
			"template": map[string]any{"name": "still_interested", "language": "en", "parameters": []string{"Ana"}}}); r.Status != 200 {
			t.Fatalf("patch = %d %s", r.Status, r.Body)
		}
		other := e.customerWrites("+5511999990031", "Maybe later")
		e.clk.Advance(2 * time.Hour)
		e.agentWrites(other, "No problem.")
		e.clk.Advance(23 * time.Hour)
		e.request(other)
		got := e.followUps(other)
		if len(got) != 1 || got[0].Type != parley.MessageTemplate || got[0].Template == nil || got[0].Template.Name != "still_interested" {
			t.Fatalf("with a template: %+v", got)
		}
	})
}

// waitFor polls for a background job's effect.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	apptest.EventuallyWithin(t, 20*time.Second, what, cond)
}

package followup_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// newGraphEnv is an env whose channel the fake Graph API serves, so a test
// sees what reaches WhatsApp.
func newGraphEnv(t *testing.T, engine store.Engine) (*env, *whatsapptest.FakeGraph) {
	t.Helper()
	graph := whatsapptest.NewFakeGraph()
	t.Cleanup(graph.Close)
	e := newEnv(t, engine, func(c *config.Config) { c.WhatsAppGraphURL = graph.URL })
	// The Graph API takes numeric phone number ids only.
	e.channel.PhoneNumberID = fmt.Sprintf("1060%011d", time.Now().UnixNano()%1e11)
	if err := e.p.Store.UpdateChannel(context.Background(), e.channel); err != nil {
		t.Fatal(err)
	}
	graph.AddNumber(whatsapptest.Number{ID: e.channel.PhoneNumberID, Token: e.channel.AccessToken, Display: "+1 555-000-0123", VerifiedName: "Acme"})
	return e, graph
}

// sentTexts lists what reached the fake Graph API for phone, in order.
func sentTexts(graph *whatsapptest.FakeGraph, phone string) []string {
	var out []string
	for _, m := range graph.Sent() {
		if m.To == strings.TrimPrefix(phone, "+") || m.To == phone {
			out = append(out, m.Text)
		}
	}
	return out
}

// waitSentTexts waits until phone has been sent want messages, and returns them.
func waitSentTexts(t *testing.T, graph *whatsapptest.FakeGraph, phone string, want []string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := sentTexts(graph, phone)
		if strings.Join(got, "|") == strings.Join(want, "|") {
			return
		}
		if time.Now().After(deadline) || len(got) > len(want) {
			t.Fatalf("sent to %s: %q, want %q", phone, got, want)
		}
		time.Sleep(5 * time.Millisecond) // polling a background job, not making time pass
	}
}

// silentConversation is a customer question answered by the agent, then
// silence for `silent`.
func (e *env) silentConversation(phone string, silent time.Duration) parley.Conversation {
	e.t.Helper()
	conv := e.customerWrites(phone, "Do you ship to Lisbon?")
	e.agentWrites(conv, "Yes, in two days.")
	e.clk.Advance(silent)
	return conv
}

func (e *env) getRule(id string) map[string]any {
	e.t.Helper()
	r := e.p.Do("GET", "/api/followup-rules/"+id, e.key, nil)
	if r.Status != http.StatusOK {
		e.t.Fatalf("get rule = %d %s", r.Status, r.Body)
	}
	return r.Map(e.t)
}

func TestNewRuleReachesConversationsAlreadySilent(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e, graph := newGraphEnv(t, engine)
		long := e.silentConversation("+5511999991001", 0)
		e.clk.Advance(2*time.Hour + 50*time.Minute)
		recent := e.silentConversation("+5511999991002", 10*time.Minute)
		answered := e.silentConversation("+5511999991003", 0)
		e.customerWrites("+5511999991003", "Thanks!") // the customer wrote last: nothing to follow up

		// No rule existed when the agent wrote. The rule is live at once:
		// the preview counts the one conversation silent past 30 minutes.
		r := e.p.Do("POST", "/api/followup-rules", e.key, map[string]any{"title": "Nudge", "message": "Still there?", "delay": "30m", "channel_ids": []string{e.channel.ID}})
		if r.Status != http.StatusCreated {
			t.Fatalf("create rule = %d %s", r.Status, r.Body)
		}
		created := r.Map(t)
		if created["would_reach_now"] != 1.0 || created["reached"] != 0.0 {
			t.Fatalf("preview at creation = would_reach_now %v, reached %v; want 1 and 0", created["would_reach_now"], created["reached"])
		}
		id := created["id"].(string)
		waitSentTexts(t, graph, long.ContactPhone, []string{"Yes, in two days.", "Still there?"})

		// The recently answered one gets it 30 minutes after its agent message.
		e.clk.Advance(19 * time.Minute)
		if got := e.getRule(id); got["would_reach_now"] != 0.0 || got["reached"] != 1.0 {
			t.Fatalf("after the back-fill: would_reach_now %v, reached %v; want 0 and 1", got["would_reach_now"], got["reached"])
		}
		e.clk.Advance(time.Minute)
		waitSentTexts(t, graph, recent.ContactPhone, []string{"Yes, in two days.", "Still there?"})
		if got := e.getRule(id); got["reached"] != 2.0 {
			t.Fatalf("reached = %v, want 2", got["reached"])
		}
		if got := sentTexts(graph, answered.ContactPhone); len(got) != 1 {
			t.Fatalf("the customer who wrote last was sent %q", got)
		}
	})
}

func TestRuleChangesReachConversationsAlreadySilent(t *testing.T) {
	t.Parallel()
	other := func(e *env) string {
		ch, err := e.p.Store.CreateChannel(context.Background(), parley.Channel{TenantID: e.tenant.ID, Type: parley.ChannelWhatsApp, Name: "Other",
			PhoneNumberID: "pn-" + randHex(), AccessToken: "token", Active: true})
		if err != nil {
			t.Fatal(err)
		}
		return ch.ID
	}
	cases := []struct {
		name   string
		create func(e *env) map[string]any
		patch  func(e *env) map[string]any
		before float64 // the preview before the change
	}{
		// An inactive rule's preview is what activating it would reach.
		{"reactivated", func(*env) map[string]any { return map[string]any{"delay": "30m", "active": false} },
			func(*env) map[string]any { return map[string]any{"active": true} }, 1},
		{"shorter delay", func(*env) map[string]any { return map[string]any{"delay": "1d"} },
			func(*env) map[string]any { return map[string]any{"delay": "30m"} }, 0},
		{"new channel", func(e *env) map[string]any { return map[string]any{"delay": "30m", "channel_ids": []string{other(e)}} },
			func(e *env) map[string]any { return map[string]any{"channel_ids": []string{e.channel.ID}} }, 0},
	}
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e, graph := newGraphEnv(t, engine)
				body := tc.create(e)
				body["title"], body["message"] = "Nudge", "Still there?"
				id := e.rule(body)
				conv := e.silentConversation("+5511999991010", 2*time.Hour)
				if got := sentTexts(graph, conv.ContactPhone); len(got) != 1 {
					t.Fatalf("before the change: sent %q", got)
				}
				before := e.getRule(id)["would_reach_now"]
				r := e.p.Do("PATCH", "/api/followup-rules/"+id, e.key, tc.patch(e))
				if r.Status != http.StatusOK {
					t.Fatalf("patch = %d %s", r.Status, r.Body)
				}
				if before != tc.before || r.Map(t)["would_reach_now"] != 1.0 {
					t.Fatalf("would_reach_now before %v, after %v; want %v then 1", before, r.Map(t)["would_reach_now"], tc.before)
				}
				waitSentTexts(t, graph, conv.ContactPhone, []string{"Yes, in two days.", "Still there?"})
			})
		}
	})
}

func TestOneFollowUpPerSessionWhateverTheRules(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e, graph := newGraphEnv(t, engine)
		early := e.rule(map[string]any{"title": "Early", "message": "Any questions?", "delay": "30m"})
		late := e.rule(map[string]any{"title": "Late", "message": "Still interested?", "delay": "2h"})

		// Both rules are due when the conversation is looked at: the
		// earliest due is sent, the other is skipped with the reason.
		both := e.silentConversation("+5511999991020", 3*time.Hour)
		e.request(both)
		waitSentTexts(t, graph, both.ContactPhone, []string{"Yes, in two days.", "Any questions?"})
		skipped := e.events(both, followup.EventSkipped)
		if len(skipped) != 1 || skipped[0].Payload["rule_id"] != late || skipped[0].Payload["reason"] != followup.ReasonOncePerSession {
			t.Fatalf("skipped events = %+v", skipped)
		}

		// One after the other: the first follow-up does not restart the
		// late rule's clock, and the session has had its follow-up.
		conv := e.silentConversation("+5511999991021", 30*time.Minute)
		waitSentTexts(t, graph, conv.ContactPhone, []string{"Yes, in two days.", "Any questions?"})
		for _, wait := range []time.Duration{90 * time.Minute, 30 * time.Minute, 5 * 24 * time.Hour} {
			e.clk.Advance(wait)
			e.request(conv)
			e.request(both)
		}
		waitSentTexts(t, graph, conv.ContactPhone, []string{"Yes, in two days.", "Any questions?"})
		waitSentTexts(t, graph, both.ContactPhone, []string{"Yes, in two days.", "Any questions?"})
		if st := e.stats(early); st["sent"] != 2.0 {
			t.Fatalf("early stats = %v", st)
		}
		if st := e.stats(late); st["sent"] != 0.0 {
			t.Fatalf("late stats = %v", st)
		}

		// A new session may have its own follow-up.
		e.customerWrites(conv.ContactPhone, "One more thing")
		e.agentWrites(conv, "Sure.")
		e.clk.Advance(30 * time.Minute)
		waitSentTexts(t, graph, conv.ContactPhone, []string{"Yes, in two days.", "Any questions?", "Sure.", "Any questions?"})
	})
}

func TestRuleAPISaysWhenFollowUpsAreOff(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		e.patchTenant(map[string]any{"features": map[string]bool{"followups": false}})
		r := e.p.Do("POST", "/api/followup-rules", e.key, map[string]any{"title": "Nudge", "message": "Still there?", "delay": "30m"})
		if r.Status != http.StatusCreated {
			t.Fatalf("create = %d %s", r.Status, r.Body)
		}
		created := r.Map(t)
		id := created["id"].(string)
		var page struct{ Items []map[string]any }
		e.p.Do("GET", "/api/followup-rules", e.key, nil).JSON(t, &page)
		if len(page.Items) != 1 {
			t.Fatalf("rules = %v", page.Items)
		}
		for name, got := range map[string]map[string]any{"create": created, "get": e.getRule(id), "list": page.Items[0]} {
			w, _ := got["warning"].(string)
			if got["followups_enabled"] != false || !strings.Contains(w, "switched off") || !strings.Contains(w, `PATCH /api/tenant {"features": {"followups": true}}`) {
				t.Errorf("%s: followups_enabled %v, warning %q", name, got["followups_enabled"], w)
			}
		}
		e.patchTenant(map[string]any{"features": map[string]bool{"followups": true}, "modules": []string{}})
		if got := e.getRule(id); got["followups_enabled"] != false || !strings.Contains(fmt.Sprint(got["warning"]), "APPOINTMENTS module") {
			t.Fatalf("without the module: followups_enabled %v, warning %v", got["followups_enabled"], got["warning"])
		}
		e.patchTenant(map[string]any{"modules": []string{parley.ModuleAppointments}})
		if got := e.getRule(id); got["followups_enabled"] != true || got["warning"] != nil {
			t.Fatalf("switched on: followups_enabled %v, warning %v", got["followups_enabled"], got["warning"])
		}
	})
}

package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// The follow-ups page says plainly when the tenant's follow-ups are off,
// and a rule saved on the page reaches a conversation already silent: its
// row shows the preview and reach counts.
func TestFollowUpsPageSaysWhenOffAndRulesReachSilentConversations(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		clk := clock.NewFake(time.Date(2030, 3, 6, 12, 0, 0, 0, time.UTC))
		p := apptest.Start(t, engine, clk, func(c *config.Config) { c.JobRescueAfter = 100 * 365 * 24 * time.Hour })
		tn, _ := p.Tenant("Acme")
		ctx := context.Background()
		// A phone number id the Graph client refuses before any network call.
		ch, err := p.Store.CreateChannel(ctx, parley.Channel{TenantID: tn.ID, Type: parley.ChannelWhatsApp, Name: "Main number", PhoneNumberID: "pn-main", AccessToken: "x", Active: true})
		if err != nil {
			t.Fatal(err)
		}
		conv, err := p.Store.CreateConversation(ctx, parley.Conversation{TenantID: tn.ID, ContactPhone: "+5511999993001", ChannelID: ch.ID})
		if err != nil {
			t.Fatal(err)
		}
		// The customer wrote, the agent answered a minute later; silence since.
		if _, err := p.Store.TouchInbound(ctx, tn.ID, conv.ID, ch.ID, clk.Now()); err != nil {
			t.Fatal(err)
		}
		if err := p.Store.TouchOutbound(ctx, tn.ID, conv.ID, clk.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		clk.Advance(3 * time.Hour)
		e := appEnv(t, p)
		if _, err := createUser(e, tn.ID, "ana@acme.test"); err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		token := b.mustSignIn("ana@acme.test")

		off := b.get("/followups").Body
		if !strings.Contains(off, `id="followups-off"`) || !strings.Contains(off, `href="/settings/tenant"`) || !strings.Contains(off, "no rule sends anything") {
			t.Fatal("the page does not say follow-ups are off, nor how to switch them on")
		}
		// The original design's business rules: the feature on, and the APPOINTMENTS module.
		tn.Features = map[string]bool{parley.FeatureFollowUps: true}
		if err := p.Store.UpdateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		if page := b.get("/followups").Body; strings.Contains(page, `id="followups-off"`) || !strings.Contains(page, `id="followups-module-off"`) {
			t.Fatal("with the feature on and no APPOINTMENTS module, the page does not say the module is missing")
		}
		tn.Modules = []string{parley.ModuleAppointments}
		if err := p.Store.UpdateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		if page := b.get("/followups").Body; strings.Contains(page, `id="followups-off"`) || strings.Contains(page, `id="followups-module-off"`) {
			t.Fatal("the page still says follow-ups are off")
		}

		if r := b.post("/followups", url.Values{"csrf_token": {token}, "title": {"Nudge"}, "message": {"Still there?"}, "delay": {"30m"},
			"channel_ids": {ch.ID}}); r.Status != http.StatusSeeOther {
			t.Fatalf("create: %d\n%s", r.Status, r.Body)
		}
		var row string
		apptest.Eventually(t, "the rule's row counts the conversation reached", func() bool {
			row = regexpFind(t, b.get("/followups").Body, `(?s)(<tr id="rule-.*?</tr>)`)
			return strings.Contains(row, "0 silent now") && strings.Contains(row, "1 reached")
		})
		msgs, _, err := p.Store.ListMessages(ctx, tn.ID, conv.ID, store.Page{Limit: 10})
		if err != nil || len(msgs) != 1 || msgs[0].Content != "Still there?" {
			t.Logf("row: %s", row)
			t.Fatalf("messages = %+v, %v", msgs, err)
		}
	})
}

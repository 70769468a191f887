package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// Tickets, follow-ups and the lead tester: another tenant's ids are not
// found, and nothing of theirs changes or shows.
func TestNewPagesKeepTenantsApart(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, withServices(t))
		a := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
		bolt := e.tenantWithUser("Bolt", "bo@bolt.test", parley.UserAdmin)
		ours := seed(t, e.st, a.ID, "Alice", "01")
		theirs := seed(t, e.st, bolt.ID, "Bruno", "02")
		ctx := context.Background()
		_, ourTicket := e.openTicket(ours, "+5511999990001", "", true)
		theirConv, theirTicket := e.openTicket(theirs, "+5511999990002", "", true)
		theirRule, err := e.st.CreateFollowUpRule(ctx, parley.FollowUpRule{TenantID: bolt.ID, Title: "Bolt rule", Message: "m", Delay: 3600e9, Active: true})
		if err != nil {
			t.Fatal(err)
		}
		theirSales := seedSales(t, e.st, bolt.ID, theirs.Channel.ID)
		ourSales := seedSales(t, e.st, a.ID, ours.Channel.ID)

		b := e.browser()
		token := b.mustSignIn("ana@acme.test")
		form := url.Values{"csrf_token": {token}, "text": {"hi"}, "agent_id": {ours.Agent.ID}, "title": {"taken"}, "message": {"m"}, "delay": {"1d"}, "active": {"false"}}
		routes := []route{
			{"GET", "/tickets/" + theirTicket.ID},
			{"POST", "/tickets/" + theirTicket.ID + "/reply"},
			{"POST", "/tickets/" + theirTicket.ID + "/assign"},
			{"POST", "/tickets/" + theirTicket.ID + "/close"},
			{"GET", "/followups/" + theirRule.ID},
			{"POST", "/followups/" + theirRule.ID},
			{"POST", "/followups/" + theirRule.ID + "/active"},
		}
		b.expectNotFound(t, routes, form, "Bruno", "Bolt rule")
		// Their site and lead through the tester: not found either.
		for code, f := range map[string]url.Values{
			"SITE_NOT_FOUND": {"site_id": {theirSales.Site.ID}, "lead_id": {theirSales.Lead.ID}},
			"LEAD_NOT_FOUND": {"site_id": {ourSales.Site.ID}, "lead_id": {theirSales.Lead.ID}},
		} {
			f.Set("csrf_token", token)
			if p := b.post("/leads", f); p.Status != http.StatusNotFound || !strings.Contains(p.Body, "<strong>404 "+code+"</strong>") || strings.Contains(p.Body, `id="result-ok"`) {
				t.Errorf("the tester with another tenant's ids %v: %d, want 404 %s", f, p.Status, code)
			}
		}
		// Their agent cannot take our ticket; their channel cannot be in our rule.
		if p := b.post("/tickets/"+ourTicket.ID+"/assign", url.Values{"csrf_token": {token}, "agent_id": {theirs.Agent.ID}}); p.Status != http.StatusUnprocessableEntity {
			t.Errorf("assigning our ticket to their agent: %d, want 422", p.Status)
		}
		if p := b.post("/followups", url.Values{"csrf_token": {token}, "title": {"T"}, "message": {"m"}, "delay": {"1d"}, "channel_ids": {theirs.Channel.ID}}); p.Status != http.StatusUnprocessableEntity {
			t.Errorf("a rule on their channel: %d, want 422", p.Status)
		}

		// Nothing of theirs changed.
		if tk, _ := e.st.GetTicket(ctx, bolt.ID, theirTicket.ID); tk.Status != parley.TicketOpen || tk.AgentID != "" {
			t.Errorf("their ticket changed: %+v", tk)
		}
		if msgs, _ := e.st.RecentMessages(ctx, bolt.ID, theirConv.ID, 10); len(msgs) != 1 {
			t.Errorf("%d messages in their conversation, want the customer's only", len(msgs))
		}
		if r, _ := e.st.GetFollowUpRule(ctx, bolt.ID, theirRule.ID); r.Title != "Bolt rule" || !r.Active {
			t.Errorf("their rule changed: %+v", r)
		}
		if tk, _ := e.st.GetTicket(ctx, a.ID, ourTicket.ID); tk.AgentID != "" {
			t.Errorf("our ticket went to their agent: %+v", tk)
		}
		// Lists show only our own rows.
		for _, path := range []string{"/tickets?view=all", "/followups", "/leads"} {
			p := b.get(path)
			if p.Status != http.StatusOK || strings.Contains(p.Body, theirTicket.ID) || strings.Contains(p.Body, theirRule.ID) ||
				strings.Contains(p.Body, theirSales.Site.ID) || strings.Contains(p.Body, theirSales.Lead.ID) {
				t.Errorf("%s: %d or shows another tenant's rows", path, p.Status)
			}
		}
	})
}

// Every new form refuses a post without the session's CSRF token, and
// changes nothing.
func TestNewFormsNeedTheCSRFToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, withServices(t))
	tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	w := seed(t, e.st, tn.ID, "Alice", "01")
	sw := seedSales(t, e.st, tn.ID, w.Channel.ID)
	conv, tk := e.openTicket(w, "+5511999990001", "", true)
	ctx := context.Background()
	rule, err := e.st.CreateFollowUpRule(ctx, parley.FollowUpRule{TenantID: tn.ID, Title: "Rule", Message: "m", Delay: 3600e9, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	bc := seedBroadcast(t, e, tn, w.Channel.ID, "Blast")
	b := e.browser()
	b.mustSignIn("ana@acme.test")
	form := url.Values{"text": {"hi"}, "agent_id": {w.Agent.ID}, "title": {"New"}, "message": {"m"}, "delay": {"1d"}, "active": {"false"},
		"site_id": {sw.Site.ID}, "lead_id": {sw.Lead.ID}, "channel_id": {w.Channel.ID}, "template": {"blast"}, "rate": {"5"}, "price_marketing": {"1"}}
	for _, path := range []string{
		"/tickets/" + tk.ID + "/reply", "/tickets/" + tk.ID + "/assign", "/tickets/" + tk.ID + "/close",
		"/followups", "/followups/" + rule.ID, "/followups/" + rule.ID + "/active", "/leads",
		"/broadcasts/new", "/broadcasts/" + bc.ID + "/cancel", "/broadcasts/settings",
	} {
		for name, f := range map[string]url.Values{"no token": form, "a wrong token": withToken(form, "forged")} {
			if p := b.post(path, f); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "Form expired") {
				t.Errorf("POST %s with %s: %d, want 403", path, name, p.Status)
			}
		}
	}
	if got, _ := e.st.GetTicket(ctx, tn.ID, tk.ID); got.Status != parley.TicketOpen || got.AgentID != "" {
		t.Errorf("the ticket changed: %+v", got)
	}
	if msgs, _ := e.st.RecentMessages(ctx, tn.ID, conv.ID, 10); len(msgs) != 1 {
		t.Errorf("%d messages, want the customer's only", len(msgs))
	}
	if rules, _, _ := e.st.ListFollowUpRules(ctx, tn.ID, store.Page{}); len(rules) != 1 || rules[0].Title != "Rule" || !rules[0].Active {
		t.Errorf("rules changed: %+v", rules)
	}
	var n int
	if err := e.st.DB().QueryRow(`SELECT COUNT(*) FROM agent_commands WHERE tenant_id = $1`, tn.ID).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d lead commands ran (%v)", n, err)
	}
	if bcs, _, _ := e.st.ListBroadcasts(ctx, tn.ID, store.Page{}); len(bcs) != 1 || bcs[0].Status != store.BroadcastScheduled {
		t.Errorf("broadcasts changed: %+v", bcs)
	}
	if st, _ := e.st.GetBroadcastSettings(ctx, tn.ID); st.UpdatedAt != nil {
		t.Errorf("broadcast settings saved: %+v", st)
	}
}

// seedBroadcast syncs an approved template "blast" (no parameters) for the
// channel and schedules a broadcast of it to every customer, tomorrow.
func seedBroadcast(t *testing.T, e *env, tn parley.Tenant, channelID, name string) store.Broadcast {
	t.Helper()
	ctx := context.Background()
	if err := e.st.ReplaceSyncedTemplates(ctx, tn.ID, channelID, []store.SyncedTemplate{{Name: "blast", Language: "en", Status: "APPROVED", Category: "MARKETING"}}); err != nil {
		t.Fatal(err)
	}
	b, refusal, err := e.bc.Create(ctx, tn, campaign.BroadcastRequest{Name: name, ChannelID: channelID, TemplateName: "blast", SendAt: e.clk.Now().Add(24 * time.Hour).Format(time.RFC3339)})
	if err != nil || refusal != nil {
		t.Fatal(err, refusal)
	}
	return b
}

func withToken(f url.Values, token string) url.Values {
	out := url.Values{}
	for k, v := range f {
		out[k] = v
	}
	out.Set("csrf_token", token)
	return out
}

func TestNewPagesShowHostileTextEscaped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, withServices(t))
	tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	hostile := `<script>alert("x")</script>`
	w := seed(t, e.st, tn.ID, hostile, "01")
	ctx := context.Background()
	tk, err := e.st.CreateTicket(ctx, parley.Ticket{TenantID: tn.ID, ConversationID: w.Conv.ID, Reason: hostile})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.CreateFollowUpRule(ctx, parley.FollowUpRule{TenantID: tn.ID, Title: hostile, Message: hostile, Delay: 3600e9, Active: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.CreateDocument(ctx, parley.Document{TenantID: tn.ID, Title: hostile, Body: "script alert " + hostile, Category: "FAQ"}); err != nil {
		t.Fatal(err)
	}
	sw := seedSales(t, e.st, tn.ID, w.Channel.ID)
	bc := seedBroadcast(t, e, tn, w.Channel.ID, hostile)
	b := e.browser()
	token := b.mustSignIn("ana@acme.test")
	pages := map[string]page{
		"broadcasts": b.get("/broadcasts"),
		"broadcast":  b.get("/broadcasts/" + bc.ID),
		"tickets":    b.get("/tickets?view=all"),
		"ticket":     b.get("/tickets/" + tk.ID),
		"followups":  b.get("/followups"),
		"search":     b.get("/knowledge/search?q=" + url.QueryEscape(hostile+" script alert")),
		"leads": b.post("/leads", url.Values{"csrf_token": {token}, "site_id": {sw.Site.ID}, "lead_id": {sw.Lead.ID},
			"lead_data": {`{"company": "<script>alert(\"x\")</script>"}`}, "lead_stage": {hostile}}),
	}
	for name, p := range pages {
		if p.Status != http.StatusOK {
			t.Errorf("%s: %d", name, p.Status)
		}
		if strings.Contains(p.Body, "<script>alert") {
			t.Errorf("%s contains the raw script", name)
		}
		if !strings.Contains(p.Body, "&lt;script&gt;") {
			t.Errorf("%s does not show the hostile text escaped", name)
		}
	}
}

package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/dashboard"
	"github.com/parleyhq/parley/notify"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// Every dashboard page that takes an id answers another tenant's id with
// 404, shows nothing of theirs and changes nothing. The pages come from
// the dashboard's own route list, so a new page with an id cannot escape
// this test: it fails until the page's object is seeded below.
func TestEveryIDPageKeepsTenantsApart(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		var deps dashboard.Deps
		e := newEnv(t, engine, func(d *dashboard.Deps) {
			withServices(t)(d)
			d.Notifications = &notify.Service{Store: d.Store, Jobs: d.Conversations.Jobs, Outbox: d.Conversations.Outbox, Conversations: d.Conversations}
			deps = *d
		})
		d, err := dashboard.New(deps)
		if err != nil {
			t.Fatal(err)
		}
		a := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
		bolt := e.tenantWithUser("Bolt", "bo@bolt.test", parley.UserAdmin)
		ours := seed(t, e.st, a.ID, "Alice", "01")
		theirs := seed(t, e.st, bolt.ID, "Bruno", "02")
		ctx := context.Background()
		_, theirTicket := e.openTicket(theirs, "+5511999990002", "", true)
		theirRule, err := e.st.CreateFollowUpRule(ctx, parley.FollowUpRule{TenantID: bolt.ID, Title: "Bolt rule", Message: "m", Delay: 3600e9, Active: true})
		if err != nil {
			t.Fatal(err)
		}
		theirNote, err := e.st.CreateNotification(ctx, parley.Notification{TenantID: bolt.ID, Type: parley.NotificationQuestion,
			ConversationID: theirs.Conv.ID, Requested: map[string]string{"question": "Bolt question?"}, AnswerSchema: map[string]any{"type": "object"}})
		if err != nil {
			t.Fatal(err)
		}
		theirHook, err := e.st.CreateWebhookSubscription(ctx, parley.WebhookSubscription{TenantID: bolt.ID, URL: "https://bolt.example/hook", Secret: "whsec_bolt", Events: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.st.ReplaceSyncedTemplates(ctx, bolt.ID, theirs.Channel.ID, []store.SyncedTemplate{
			{Name: "bolt_sale", Language: "en_US", Status: "APPROVED", Category: "MARKETING"}}); err != nil {
			t.Fatal(err)
		}
		theirBroadcast, refusal, err := deps.Broadcasts.Create(ctx, bolt, campaign.BroadcastRequest{Name: "Bolt blast", ChannelID: theirs.Channel.ID, TemplateName: "bolt_sale"})
		if err != nil || refusal != nil {
			t.Fatal(err, refusal)
		}
		theirIDs := map[string]string{
			"/broadcasts":        theirBroadcast.ID,
			"/settings/webhooks": theirHook.ID,
			"/conversations":     theirs.Conv.ID,
			"/knowledge":         theirs.Doc.ID,
			"/settings/channels": theirs.Channel.ID,
			"/settings/staff":    theirs.Staff.ID,
			"/settings/agents":   theirs.Agent.ID,
			"/settings/api-keys": theirs.KeyID,
			"/tickets":           theirTicket.ID,
			"/followups":         theirRule.ID,
			"/notifications":     theirNote.ID,
		}

		b := e.browser()
		token := b.mustSignIn("ana@acme.test")
		form := url.Values{"csrf_token": {token}, "title": {"taken"}, "body": {"x"}, "category": {"FAQ"}, "active": {"false"}, "available": {"false"},
			"test_senders": {"+5511999990000"}, "text": {"hi"}, "agent_id": {ours.Agent.ID}, "message": {"m"}, "delay": {"1d"},
			"answer": {"taken over"}, "agent_response_to_customer": {"taken over"}}
		n := 0
		for _, pattern := range d.Patterns() {
			method, path, _ := strings.Cut(pattern, " ")
			i := strings.Index(path, "/{")
			if i < 0 || strings.HasPrefix(path[i:], "/{$}") { // {$} anchors a path; it is no id
				continue
			}
			id, ok := theirIDs[path[:i]]
			if !ok {
				t.Fatalf("%s takes an id, and no object of another tenant is seeded for it: add one", pattern)
			}
			concrete := path[:i+1] + id + path[strings.Index(path, "}")+1:]
			var p page
			if method == http.MethodGet {
				p = b.get(concrete)
			} else {
				p = b.post(concrete, form)
			}
			if p.Status != http.StatusNotFound {
				t.Errorf("%s with another tenant's id: %d, want 404", pattern, p.Status)
			}
			for _, theirText := range []string{"Bruno", "Bolt rule", "Bolt blast", "Bolt question", theirs.Channel.PhoneNumberID} {
				if strings.Contains(p.Body, theirText) {
					t.Errorf("%s shows another tenant's %q", pattern, theirText)
				}
			}
			n++
		}
		if n < 15 {
			t.Fatalf("only %d id pages found", n)
		}

		// Nothing of theirs changed.
		if c, _ := e.st.GetChannel(ctx, bolt.ID, theirs.Channel.ID); !c.Active || len(c.TestSenders) != 0 {
			t.Errorf("their channel changed: %+v", c)
		}
		if doc, err := e.st.GetDocument(ctx, bolt.ID, theirs.Doc.ID); err != nil || doc.Title != "Opening hours" {
			t.Errorf("their document changed: %+v %v", doc, err)
		}
		if _, err := e.st.GetStaffMember(ctx, bolt.ID, theirs.Staff.ID); err != nil {
			t.Errorf("their staff member was removed: %v", err)
		}
		if ag, _ := e.st.GetAgent(ctx, bolt.ID, theirs.Agent.ID); !ag.Available {
			t.Error("their agent was set away")
		}
		if _, err := e.st.TenantByAPIKey(ctx, theirs.Key); err != nil {
			t.Errorf("their API key was revoked: %v", err)
		}
		if tk, _ := e.st.GetTicket(ctx, bolt.ID, theirTicket.ID); tk.Status != parley.TicketOpen || tk.AgentID != "" {
			t.Errorf("their ticket changed: %+v", tk)
		}
		if r, _ := e.st.GetFollowUpRule(ctx, bolt.ID, theirRule.ID); r.Title != "Bolt rule" || !r.Active {
			t.Errorf("their rule changed: %+v", r)
		}
		if nt, _ := e.st.GetNotification(ctx, bolt.ID, theirNote.ID); nt.Status != parley.NotificationRequested {
			t.Errorf("their notification was answered: %+v", nt)
		}
		if bc, _ := e.st.GetBroadcast(ctx, bolt.ID, theirBroadcast.ID); bc.Status != store.BroadcastScheduled {
			t.Errorf("their broadcast was %s", bc.Status)
		}
	})
}

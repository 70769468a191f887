package dashboard_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/store"
)

// Steps of TestDashboardInABrowser for the pages people work in: follow-up
// rules, tickets, the lead tester.

const (
	webhookSecret = "browser-app-secret"
	supportNumber = "106000000000777"
	supportToken  = "support-line-token"
	customerPhone = "5511977770000" // as WhatsApp writes it, without "+"
)

// supportLine is a WhatsApp channel the fake Graph API serves.
func supportLine(t *testing.T, p *apptest.Parley, graph *whatsapptest.FakeGraph, tenantID string) parley.Channel {
	t.Helper()
	graph.AddNumber(whatsapptest.Number{ID: supportNumber, Token: supportToken, Display: "+1 555-000-0777", VerifiedName: "Acme"})
	c, err := p.Store.CreateChannel(context.Background(), parley.Channel{TenantID: tenantID, Type: parley.ChannelWhatsApp, Name: "Support line",
		PhoneNumberID: supportNumber, DisplayNumber: "+15550000777", AccessToken: supportToken, Active: true, Settings: map[string]string{parley.SettingCheck: parley.CheckOK}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// followUpRule creates a rule through the New follow-up dialog (a wrong
// delay first), sees it in the table, and deactivates it in place.
func (b *tab) followUpRule(p *apptest.Parley, tenantID string, support parley.Channel) parley.FollowUpRule {
	t := b.t
	t.Helper()
	b.do("open follow-ups", chromedp.Navigate(b.base+"/followups"), chromedp.WaitVisible(chromedp.ID("new-rule-open")))
	b.do("open the dialog", chromedp.Click(chromedp.ID("new-rule-open")), chromedp.WaitVisible(chromedp.ID("new-rule-form")))
	if b.eval(`document.getElementById("new-rule").matches(":modal") ? 1 : 0`) != 1 {
		t.Fatal("New follow-up did not open as a modal dialog")
	}
	b.screenshot("followup-dialog")
	b.do("create with a wrong delay",
		chromedp.SendKeys(chromedp.ID("rule-title"), "Still there?"),
		chromedp.SendKeys(chromedp.ID("rule-message"), "Can we help with anything else?"),
		chromedp.SetValue(chromedp.ID("rule-delay"), "3x"),
		chromedp.SetValue(chromedp.ID("rule-survey"), "csat"),
		chromedp.Click(chromedp.CSS(`#new-rule-form input[name=channel_ids][value="`+support.ID+`"]`)),
		chromedp.Click(chromedp.CSS(`#new-rule-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-rule .field-error`)))
	if s := b.text("#new-rule .field-error"); s != `"3x" is not a delay like 30m, 2h or 3d.` {
		t.Fatalf("delay error = %q", s)
	}
	if b.eval(`document.getElementById("new-rule").matches(":modal") && document.activeElement !== null ? 1 : 0`) != 1 ||
		run(b, "title kept", chromedp.Value(chromedp.ID("rule-title"))) != "Still there?" {
		t.Fatal("the dialog did not come back open with what was typed")
	}
	b.screenshot("followup-dialog-error")
	b.do("fix the delay and create",
		chromedp.SetValue(chromedp.ID("rule-delay"), "2h"),
		chromedp.Click(chromedp.CSS(`#new-rule-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("rules")))
	rules, _, err := p.Store.ListFollowUpRules(context.Background(), tenantID, store.Page{})
	if err != nil || len(rules) != 1 {
		t.Fatalf("rules = %+v, %v", rules, err)
	}
	rule := rules[0]
	row := "#rule-" + rule.ID
	if s := b.text(row); !strings.Contains(s, "Still there?") || !strings.Contains(s, "2h") || !strings.Contains(s, "Support line") || !strings.Contains(s, "CSAT") || !strings.Contains(s, "Active") {
		t.Fatalf("the rule's row = %q", s)
	}
	// Its preview and reach: no conversation on the new line is silent yet.
	if s := b.text(row + " td.reach"); !regexp.MustCompile(`^0 silent now\s+0 reached$`).MatchString(strings.TrimSpace(s)) {
		t.Fatalf("the rule's reach cell = %q, want its preview and reach counts", s)
	}
	b.screenshot("followups")
	b.do("deactivate it", chromedp.Click(chromedp.CSS(row+` button.toggle`)), chromedp.WaitVisible(chromedp.CSS(row+`[data-active="false"]`)))
	got, err := p.Store.GetFollowUpRule(context.Background(), tenantID, rule.ID)
	if err != nil || got.Active {
		t.Fatalf("after deactivating: %+v, %v (kept, inactive)", got, err)
	}
	if loc := run(b, "location", chromedp.Location()); !strings.HasSuffix(loc, "/followups") {
		t.Fatalf("the toggle navigated to %s; htmx should have swapped the row", loc)
	}
	b.screenshot("followups-deactivated")
	b.do("open its edit page", chromedp.Click(chromedp.CSS(row+` a`)), chromedp.WaitVisible(chromedp.ID("rule-form")))
	if v := run(b, "delay", chromedp.Value(chromedp.ID("rule-delay"))); v != "2h" {
		t.Fatalf("the edit page shows delay %q", v)
	}
	b.screenshot("followup-edit")
	return got
}

// replyToTicket has a customer write on the support line something the
// knowledge base does not answer: the offline mode sends a holding reply
// and opens a ticket, which goes to Alex, the agent Ana works as. Ana
// answers it from the dashboard, and the answer reaches the Graph API.
func (b *tab) replyToTicket(p *apptest.Parley, graph *whatsapptest.FakeGraph, tenantID string) parley.Ticket {
	t := b.t
	t.Helper()
	body := whatsapptest.TextWebhook(whatsapptest.Inbound{PhoneNumberID: supportNumber, From: customerPhone, Name: "Carla", Time: time.Now()},
		"Can I pay my invoice in installments?")
	whatsapptest.MustPost(t, p.URL(), webhookSecret, body)
	waitSent := func(n int) []whatsapptest.SentMessage {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		sent, err := graph.WaitSent(ctx, n)
		if err != nil {
			t.Fatalf("waiting for %d sends at the Graph API (have %d): %v\n%s", n, len(sent), err, p.Logs.String())
		}
		return sent
	}
	waitSent(1) // the holding reply
	var ticket parley.Ticket
	apptest.Eventually(t, "the ticket", func() bool {
		ts, _, err := p.Store.ListTickets(context.Background(), tenantID, store.TicketFilter{Status: parley.TicketOpen}, store.Page{})
		if err == nil && len(ts) == 1 && ts[0].AgentID != "" {
			ticket = ts[0]
			return true
		}
		return false
	})

	b.do("open my tickets", chromedp.Navigate(b.base+"/tickets?view=mine"), chromedp.WaitVisible(chromedp.ID("tickets")))
	if s := b.text("#tickets tbody"); !strings.Contains(s, "+"+customerPhone) || !strings.Contains(s, "no knowledge passage answers") || !strings.Contains(s, "Alex") {
		t.Fatalf("my tickets = %q", s)
	}
	b.screenshot("tickets")
	reply := "Yes, Carla: up to 3 installments, no fees."
	b.do("answer the ticket",
		chromedp.Click(chromedp.CSS(`#tickets a[href="/tickets/`+ticket.ID+`"]`)),
		chromedp.WaitVisible(chromedp.ID("reply-form")))
	b.screenshot("ticket")
	b.do("send the reply",
		chromedp.SendKeys(chromedp.ID("reply-text"), reply),
		chromedp.Click(chromedp.CSS(`#reply-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("reply-sent")))
	sent := waitSent(2)
	if got := sent[1]; got.Text != reply || strings.TrimPrefix(got.To, "+") != customerPhone || got.PhoneNumberID != supportNumber {
		t.Fatalf("the reply at the Graph API = %+v", got)
	}
	if s := b.text("#messages"); !strings.Contains(s, "installments?") || !strings.Contains(s, reply) {
		t.Fatalf("the thread does not show the reply: %q", s)
	}
	b.screenshot("ticket-replied")
	return ticket
}

// leadTester runs the tester: a JSON field the browser refuses first, then
// the content per channel, saved as the screenshot shot.
func (b *tab) leadTester(sw salesWorld, shot string) {
	t := b.t
	t.Helper()
	b.do("open the lead tester", chromedp.Navigate(b.base+"/leads"), chromedp.WaitVisible(chromedp.ID("lead-tester")),
		chromedp.SendKeys(chromedp.ID("t-site_id"), sw.Site.ID),
		chromedp.SendKeys(chromedp.ID("t-lead_id"), sw.Lead.ID),
		chromedp.SendKeys(chromedp.ID("t-lead_data"), `{"name": "Jane"`),
		chromedp.Click(chromedp.CSS(`#lead-tester button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("t-lead_data-json")))
	if s := b.text("#t-lead_data-json"); !strings.HasPrefix(s, "Not valid JSON") {
		t.Fatalf("the browser's JSON check says %q", s)
	}
	if b.eval(`document.querySelectorAll("#result").length`) != 0 {
		t.Fatal("the form was sent with invalid JSON")
	}
	b.do("fix the JSON and run",
		chromedp.SetValue(chromedp.ID("t-lead_data"), `{"company": "Acme Inc.", "pain_points": ["measuring ROI"]}`),
		chromedp.SendKeys(chromedp.ID("t-product_interest"), `["analytics dashboard"]`),
		chromedp.Click(chromedp.CSS(`#lead-tester button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("content")))
	if n := b.eval(`document.querySelectorAll("#content .channel").length`); n != 4 {
		t.Fatalf("%d channels of content, want e-mail, WhatsApp, notification and web", n)
	}
	if s := b.text(`#content .channel[data-channel="email"]`); !strings.Contains(s, "Hi Jane,") || !strings.Contains(s, "analytics dashboard") {
		t.Fatalf("the e-mail = %q", s)
	}
	if s := b.text("#snippet-curl"); !strings.Contains(s, "$PARLEY_API_KEY") {
		t.Fatalf("the curl snippet = %q", s)
	}
	b.screenshot(shot)
}

// answerNotification raises a staff question for the ticket's customer
// through the API, answers it on the Notifications page, and sees the
// answer reach the customer at the Graph API.
func (b *tab) answerNotification(p *apptest.Parley, graph *whatsapptest.FakeGraph, tenantID string, ticket parley.Ticket) {
	t := b.t
	t.Helper()
	ctx := context.Background()
	if _, err := p.Store.CreateStaffMember(ctx, parley.StaffMember{TenantID: tenantID, Phone: "+5511966660000", Name: "Olga", Type: parley.StaffAdmin}); err != nil {
		t.Fatal(err)
	}
	_, key, err := p.Store.CreateAPIKey(ctx, tenantID, "notifications")
	if err != nil {
		t.Fatal(err)
	}
	before := len(graph.Sent())
	res := p.Do(http.MethodPost, "/api/notifications", key, map[string]any{"type": "user_question_request", "conversation_id": ticket.ConversationID,
		"context": map[string]string{"question": "Do you deliver on Sundays?"}})
	if res.Status != http.StatusAccepted {
		t.Fatalf("raise a notification: %d %s", res.Status, res.Body)
	}
	id := res.Map(t)["id"].(string)
	apptest.Eventually(t, "the request sent to the staff", func() bool {
		return p.Do(http.MethodGet, "/api/notifications/"+id, key, nil).Status == http.StatusOK && len(graph.Sent()) > before
	})

	b.do("open notifications", chromedp.Navigate(b.base+"/notifications"), chromedp.WaitVisible(chromedp.ID("notifications")))
	if s := b.text("#notifications"); !strings.Contains(s, "Do you deliver on Sundays?") {
		t.Fatalf("open notifications = %q", s)
	}
	b.screenshot("notifications")
	answer := "Yes, on Sundays we deliver from 10:00 to 14:00."
	b.do("answer it",
		chromedp.Click(chromedp.CSS(`#notifications a[href="/notifications/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.ID("answer-form")),
		chromedp.SendKeys(chromedp.ID("f-answer"), answer),
		chromedp.Click(chromedp.CSS(`#answer-form button[type=submit]`)),
		// #answer is only on the page the form's POST leads to; waiting for
		// something the question page already has would race the navigation.
		chromedp.WaitVisible(chromedp.ID("answer")))
	if s := b.text("#answer"); !strings.Contains(s, answer) {
		t.Fatalf("the answered notification shows %q", s)
	}
	if s := b.text("#status"); s != "answered" {
		t.Fatalf("the notification's status shows %q, want answered", s)
	}
	b.screenshot("notification-answered")
	ctxWait, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		sent := graph.Sent()
		found := false
		for _, m := range sent[before:] {
			if strings.TrimPrefix(m.To, "+") == customerPhone && strings.Contains(m.Text, answer) {
				found = true
			}
		}
		if found {
			break
		}
		if ctxWait.Err() != nil {
			t.Fatalf("the staff answer never reached the customer; sent: %+v\n%s", sent[before:], p.Logs.String())
		}
		if _, err := graph.WaitSent(ctxWait, len(sent)+1); err != nil {
			continue
		}
	}
	// The notification page tells what became of the answer: the message
	// that carried it was accepted by the Graph API.
	var delivery string
	apptest.Eventually(t, "the notification page to show the answer sent", func() bool {
		b.do("reload the notification", chromedp.Navigate(b.base+"/notifications/"+id), chromedp.WaitVisible(chromedp.ID("delivery-status")))
		delivery = b.text("#delivery-status")
		return delivery == "sent" || delivery == "delivered" || delivery == "read"
	})
	if s := b.text("#delivery"); !strings.Contains(s, "To the customer: "+delivery) {
		t.Fatalf("the notification's delivery shows %q", s)
	}
	b.screenshot("notification-delivered")
}

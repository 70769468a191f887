package dashboard_test

import (
	"context"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/store"
)

// broadcast is a step of TestDashboardInABrowser: Ana creates a broadcast
// through the New broadcast form (refused first, for a parameter the
// template does not take), sees it scheduled on its page with its progress
// bar, and cancels it. It is scheduled for tomorrow, so the running
// Parley's pacer sends nothing meanwhile.
func (b *tab) broadcast(p *apptest.Parley, graph *whatsapptest.FakeGraph, tenantID string, support parley.Channel) store.Broadcast {
	t := b.t
	t.Helper()
	ctx := context.Background()
	const waba = "102290129340777"
	graph.AddAccount(waba, supportToken, whatsapptest.MessageTemplate{Name: "winter_sale", Language: "en_US", Status: "APPROVED", Category: "MARKETING",
		Components: []map[string]any{{"type": "BODY", "text": "Hi {{1}}, our winter sale starts today."}}})
	b.do("name the channel's Business Account",
		chromedp.Navigate(b.base+"/settings/channels/"+support.ID), chromedp.WaitVisible(chromedp.ID("waba_id")),
		chromedp.SendKeys(chromedp.ID("waba_id"), waba),
		chromedp.Submit(chromedp.ID("waba_id")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/settings/channels/`+support.ID+`"]`)))
	b.do("open broadcasts", chromedp.Navigate(b.base+"/broadcasts"), chromedp.WaitVisible(chromedp.ID("new-broadcast")))
	b.do("open the form", chromedp.Click(chromedp.ID("new-broadcast")), chromedp.WaitVisible(chromedp.ID("broadcast-form")))
	if n := b.eval(`document.querySelectorAll("#bc-template option[value=winter_sale]").length`); n != 0 {
		t.Fatal("the form offers a template before any sync")
	}
	b.do("sync the templates, a name typed",
		chromedp.SendKeys(chromedp.ID("bc-name"), "Winter sale"),
		chromedp.Click(chromedp.ID("sync-templates")),
		chromedp.WaitVisible(chromedp.ID("sync-result")))
	// The tenant's other WhatsApp number names no account: said, not passed over.
	if s := b.text("#sync-result"); s != "Synced 1 template (1 approved) from WhatsApp. Main number names no Business Account, so its templates were not read." {
		t.Fatalf("the sync says %q", s)
	}
	if n := b.eval(`document.querySelectorAll("#bc-template option[value=winter_sale]").length`); n != 1 {
		t.Fatal("the synced template is not offered")
	}
	b.screenshot("broadcast-new")
	tomorrow := time.Now().UTC().Add(24*time.Hour).Format("2006-01-02") + "T09:00" // the tenant's zone is UTC
	b.do("create without the template's parameter",
		chromedp.SetValue(chromedp.ID("bc-channel"), support.ID),
		chromedp.SetValue(chromedp.ID("bc-template"), "winter_sale"),
		chromedp.SetValue(chromedp.ID("bc-send-at"), tomorrow),
		chromedp.SendKeys(chromedp.ID("bc-rate"), "5"),
		chromedp.Click(chromedp.CSS(`#broadcast-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#broadcast-form .field-error`)))
	if s := b.text("#broadcast-form .field-error"); !strings.Contains(s, `template "winter_sale" (en_US) takes 1 body parameters; the broadcast gives 0`) {
		t.Fatalf("the refusal shown = %q", s)
	}
	if v := run(b, "name kept", chromedp.Value(chromedp.ID("bc-name"))); v != "Winter sale" {
		t.Fatalf("the refused form shows name %q", v)
	}
	if n, _, err := p.Store.ListBroadcasts(ctx, tenantID, store.Page{}); err != nil || len(n) != 0 {
		t.Fatalf("a refused form stored %d broadcasts (%v)", len(n), err)
	}
	b.screenshot("broadcast-new-refused")
	b.do("give the parameter and create",
		chromedp.SendKeys(chromedp.ID("bc-parameters"), "{{first_name}}"),
		chromedp.Click(chromedp.CSS(`#broadcast-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("broadcast-facts")))
	items, _, err := p.Store.ListBroadcasts(ctx, tenantID, store.Page{})
	if err != nil || len(items) != 1 {
		t.Fatalf("broadcasts = %+v, %v", items, err)
	}
	bc := items[0]
	if loc := run(b, "location", chromedp.Location()); !strings.HasSuffix(loc, "/broadcasts/"+bc.ID) {
		t.Fatalf("created, the browser is at %s", loc)
	}
	if s := b.text("#broadcast-status"); s != "Scheduled" {
		t.Fatalf("status = %q", s)
	}
	if top, value := b.eval(`document.querySelector("#broadcast-facts progress").max`), b.eval(`document.querySelector("#broadcast-facts progress").value`); top != bc.Total || value != 0 || bc.Total < 1 {
		t.Fatalf("the progress bar is %d of %d, want 0 of %d", value, top, bc.Total)
	}
	if s := b.text("#next-send"); !strings.HasSuffix(s, "09:00") {
		t.Fatalf("next send = %q", s)
	}
	b.screenshot("broadcast-scheduled")
	// The scheduled page refreshes itself every 5 s; a click that lands
	// while it reloads is lost, as a person's would be, who clicks again.
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#cancel-broadcast button`)), chromedp.WaitVisible(chromedp.CSS(`#broadcast-status .status-cancelled`)))
		cancel()
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("cancel it: %v", err)
		}
	}
	if got, err := p.Store.GetBroadcast(ctx, tenantID, bc.ID); err != nil || got.Status != store.BroadcastCancelled {
		t.Fatalf("after cancel: %+v, %v", got, err)
	}
	if n := b.eval(`document.querySelectorAll("#cancel-broadcast, meta[http-equiv=refresh]").length`); n != 0 {
		t.Fatal("a cancelled broadcast still offers Cancel or refreshes itself")
	}
	b.screenshot("broadcast-cancelled")
	return bc
}

package dashboard_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/channel/whatsapp"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/dashboard"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// TestTemplatesSyncFromTheDashboard: an admin names the channel's WhatsApp
// Business Account on its settings page, then Sync templates on the New
// broadcast form reads the account's templates from the Graph API; what
// was typed in the form stays, and a sync that cannot run says why.
func TestTemplatesSyncFromTheDashboard(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		const waba = "102290129340398"
		graph := whatsapptest.NewFakeGraph()
		t.Cleanup(graph.Close)
		client, err := whatsapp.NewClient(whatsapp.Config{BaseURL: graph.URL})
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, engine, func(d *dashboard.Deps) {
			withServices(t)(d)
			d.Templates = client
		})
		tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
		w := seed(t, e.st, tn.ID, "Alice", "01")
		b := e.browser()
		token := b.mustSignIn("ana@acme.test")
		typed := url.Values{"csrf_token": {token}, "name": {"Spring promo"}, "parameters": {"{{first_name}}"}}

		// No account named: nothing to sync, and the form says where to name it.
		form := b.get("/broadcasts/new")
		if !strings.Contains(form.Body, `id="no-templates"`) || !strings.Contains(form.Body, `id="sync-templates"`) {
			t.Fatalf("the form without templates offers no sync:\n%s", form.Body)
		}
		p := b.post("/broadcasts/templates/sync", typed)
		if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "No WhatsApp channel names its WhatsApp Business Account") ||
			!strings.Contains(p.Body, `value="Spring promo"`) || graph.TemplateListings() != 0 {
			t.Fatalf("sync without an account: %d, %d listings\n%s", p.Status, graph.TemplateListings(), p.Body)
		}

		// The channel's page takes the account id (digits only), and keeps
		// the settings an ownership check wrote.
		if err := e.st.SetChannelSetting(t.Context(), tn.ID, w.Channel.ID, "check", "ok"); err != nil {
			t.Fatal(err)
		}
		if p := b.get("/settings/channels/" + w.Channel.ID); !strings.Contains(p.Body, `id="waba_id"`) {
			t.Fatalf("the WhatsApp channel's page has no account id field:\n%s", p.Body)
		}
		save := func(id string) page {
			return b.post("/settings/channels/"+w.Channel.ID, url.Values{"csrf_token": {token}, "test_senders": {""}, "waba_id": {id}})
		}
		if p := save("acme-account"); p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "is not a WhatsApp Business Account id: digits") {
			t.Errorf("a non-numeric account id: %d\n%s", p.Status, p.Body)
		}
		if p := save(waba); p.Status != http.StatusSeeOther {
			t.Fatalf("saving the account id: %d\n%s", p.Status, p.Body)
		}
		ch, err := e.st.GetChannel(t.Context(), tn.ID, w.Channel.ID)
		if err != nil || ch.Settings[campaign.SettingWABAID] != waba || ch.Settings["check"] != "ok" {
			t.Fatalf("channel settings %v, %v", ch.Settings, err)
		}

		// The account answers for another token: WhatsApp's refusal is shown.
		graph.AddAccount(waba, "someone-else", whatsapptest.BodyTemplate("winter_sale", "en_US", "Hi {{1}}"))
		if p := b.post("/broadcasts/templates/sync", typed); p.Status != http.StatusBadGateway || !strings.Contains(p.Body, "WhatsApp did not list the templates") {
			t.Errorf("a refused listing: %d\n%s", p.Status, p.Body)
		}

		graph.AddAccount(waba, "tok", whatsapptest.BodyTemplate("winter_sale", "en_US", "Hi {{1}}"),
			whatsapptest.MessageTemplate{Name: "draft_promo", Language: "en_US", Status: "PENDING", Category: "MARKETING"})
		listed := graph.TemplateListings()
		p = b.post("/broadcasts/templates/sync", typed)
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "Synced 2 templates (1 approved) from WhatsApp.") || graph.TemplateListings() != listed+1 {
			t.Fatalf("sync: %d, %d listings\n%s", p.Status, graph.TemplateListings()-listed, p.Body)
		}
		for _, want := range []string{`<option value="winter_sale">winter_sale (en_US, 1 parameters)</option>`, `draft_promo (en_US, 0 parameters) — PENDING`,
			`value="Spring promo"`, "{{first_name}}</textarea>"} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("after the sync the form lacks %q", want)
			}
		}
		if got := b.get("/broadcasts"); strings.Contains(got.Body, "Spring promo") {
			t.Error("syncing created a broadcast")
		}

		// A second WhatsApp number without an account: the sync says it
		// could not read it.
		second, err := e.st.CreateChannel(t.Context(), parley.Channel{TenantID: tn.ID, Type: parley.ChannelWhatsApp, Name: "Second line",
			PhoneNumberID: "pn02", AccessToken: "tok2", Active: true})
		if err != nil {
			t.Fatal(err)
		}
		p = b.post("/broadcasts/templates/sync", typed)
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "Second line names no Business Account, so its templates were not read.") {
			t.Errorf("a sync passing over a channel without an account: %d\n%s", p.Status, p.Body)
		}
		// Its account refuses the listing while the first account has a new
		// template: nothing is replaced, the last sync stays whole.
		if err := e.st.SetChannelSetting(t.Context(), tn.ID, second.ID, campaign.SettingWABAID, "102290129340399"); err != nil {
			t.Fatal(err)
		}
		graph.AddAccount("102290129340399", "not-tok2")
		graph.AddAccount(waba, "tok", whatsapptest.BodyTemplate("winter_sale", "en_US", "Hi {{1}}"), whatsapptest.BodyTemplate("spring_sale", "en_US", "Hi {{1}}"))
		p = b.post("/broadcasts/templates/sync", typed)
		if p.Status != http.StatusBadGateway || !strings.Contains(p.Body, "WhatsApp did not list the templates, so none were changed") ||
			!strings.Contains(p.Body, "Second line") || strings.Contains(p.Body, "spring_sale") || !strings.Contains(p.Body, "draft_promo") {
			t.Errorf("a sync with one refused listing: %d\n%s", p.Status, p.Body)
		}

		// Agents neither sync nor name the account.
		if _, err := dashboard.CreateUser(t.Context(), e.st, dashboard.NewUser{TenantID: tn.ID, Email: "al@acme.test", Name: "Al",
			Role: parley.UserAgent, Password: password}); err != nil {
			t.Fatal(err)
		}
		agent := e.browser()
		agentToken := agent.mustSignIn("al@acme.test")
		listed = graph.TemplateListings()
		for _, p := range []page{
			agent.post("/broadcasts/templates/sync", url.Values{"csrf_token": {agentToken}}),
			agent.post("/settings/channels/"+w.Channel.ID, url.Values{"csrf_token": {agentToken}, "waba_id": {"1"}}),
		} {
			if p.Status != http.StatusForbidden {
				t.Errorf("an agent's sync or account id: %d, want 403", p.Status)
			}
		}
		if ch, _ := e.st.GetChannel(t.Context(), tn.ID, w.Channel.ID); graph.TemplateListings() != listed || ch.Settings[campaign.SettingWABAID] != waba {
			t.Errorf("an agent reached the Graph API or changed the account id (%v)", ch.Settings)
		}
	})
}

package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/dashboard"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// Cancel, the settings, tenant isolation and the admin role of the
// broadcast pages (the env is broadcasts_test.go's).

func TestBroadcastCancelAndCancelAgain(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newBroadcastEnv(t, engine, 2)
		b := e.create("Winter sale", e.tenant, e.world.Channel.ID)
		ctx := context.Background()
		// Its channel switched off: the page says nothing goes out.
		if err := e.st.SetChannelActive(ctx, e.tenant.ID, e.world.Channel.ID, false); err != nil {
			t.Fatal(err)
		}
		p := e.browser.get("/broadcasts/" + b.ID)
		if !strings.Contains(p.Body, `id="channel-inactive"`) || !strings.Contains(p.Body, "“Main number” is inactive") {
			t.Errorf("no notice of the inactive channel:\n%s", p.Body)
		}
		if !strings.Contains(p.Body, `<form method="post" action="/broadcasts/`+b.ID+`/cancel" id="cancel-broadcast">`) {
			t.Fatal("no Cancel button")
		}
		if p := e.browser.post("/broadcasts/"+b.ID+"/cancel", url.Values{}); p.Status != http.StatusForbidden {
			t.Errorf("cancel without the CSRF token: %d, want 403", p.Status)
		}
		if got, _ := e.st.GetBroadcast(ctx, e.tenant.ID, b.ID); got.Status != store.BroadcastScheduled {
			t.Fatalf("cancelled without the token: %s", got.Status)
		}
		p = e.browser.post("/broadcasts/"+b.ID+"/cancel", url.Values{"csrf_token": {e.token}})
		if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/broadcasts/"+b.ID {
			t.Fatalf("cancel: %d to %q", p.Status, p.Header.Get("Location"))
		}
		p = e.browser.get("/broadcasts/" + b.ID)
		if !strings.Contains(p.Body, `<dd id="broadcast-status"><span class="badge status-cancelled">Cancelled</span></dd>`) ||
			strings.Contains(p.Body, `id="cancel-broadcast"`) || strings.Contains(p.Body, `http-equiv="refresh"`) || strings.Contains(p.Body, `id="channel-inactive"`) {
			t.Errorf("the cancelled broadcast's page:\n%s", p.Body)
		}
		cancelled := e.browser.get("/broadcasts/" + b.ID + "?outcome=cancelled")
		if n := strings.Count(cancelled.Body, `<tr data-outcome="cancelled">`); n != 3 || !strings.Contains(cancelled.Body, "the broadcast was cancelled") {
			t.Errorf("%d cancelled recipients shown, want 3 with the reason", n)
		}
		// Again (a second tab, a double click): 409, saying why.
		p = e.browser.post("/broadcasts/"+b.ID+"/cancel", url.Values{"csrf_token": {e.token}})
		if p.Status != http.StatusConflict || !strings.Contains(p.Body, `<p class="alert" role="alert" id="broadcast-notice">Not cancelled: the broadcast is cancelled already.</p>`) {
			t.Errorf("second cancel: %d\n%s", p.Status, p.Body)
		}
	})
}

func TestBroadcastSettingsRefuseAndSave(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newBroadcastEnv(t, engine, 0)
		ctx := context.Background()
		p := e.browser.get("/broadcasts/settings")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="bs-words-in-force">In force: `) || !strings.Contains(p.Body, "(default 0.025)") {
			t.Fatalf("settings form (%d):\n%s", p.Status, p.Body)
		}
		good := url.Values{"csrf_token": {e.token}, "opt_out_words": {"PARAR\nSAIR"}, "opt_out_reply": {"Pronto, sem mais mensagens."}, "rate": {"40"},
			"price_marketing": {"0.0625"}, "price_utility": {""}, "price_authentication": {""}}
		for field, tc := range map[string]struct{ key, value, want string }{
			"price_marketing": {"price_marketing", "-1", "Prices are by category (marketing, utility, authentication), each 0 or more."},
			"opt_out_words":   {"opt_out_words", "PARAR\n" + strings.Repeat("x", 33), "An opt-out word is 1 to 32 characters."},
			"rate":            {"rate", "500", "The default rate is 0 (meaning 20) to 80 messages a second."},
			"price_utility":   {"price_utility", "cheap", "A price in US dollars, like 0.025."},
		} {
			v := withToken(good, e.token)
			v.Set(tc.key, tc.value)
			p := e.browser.post("/broadcasts/settings", v)
			if p.Status != http.StatusUnprocessableEntity {
				t.Errorf("%s refused: %d, want 422", field, p.Status)
				continue
			}
			got := regexpFind(t, p.Body, `(?s)name="`+field+`"[^>]*>(?:[^<]*</textarea>)?\s*(?:<small[^>]*>[^<]*</small>\s*)?<p class="field-error" role="alert">(.*?)</p>`)
			if got != tc.want {
				t.Errorf("%s: beside the field %q, want %q", field, got, tc.want)
			}
			if !strings.Contains(p.Body, "Pronto, sem mais mensagens.</textarea>") {
				t.Errorf("%s: the refused form lost the reply typed", field)
			}
		}
		if st, err := e.st.GetBroadcastSettings(ctx, e.tenant.ID); err != nil || st.UpdatedAt != nil {
			t.Fatalf("refused settings were stored: %+v %v", st, err)
		}
		p = e.browser.post("/broadcasts/settings", good)
		if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/broadcasts/settings?saved=1" {
			t.Fatalf("save: %d", p.Status)
		}
		st, err := e.st.GetBroadcastSettings(ctx, e.tenant.ID)
		if err != nil || strings.Join(st.OptOutWords, ",") != "PARAR,SAIR" || st.RatePerSec != 40 || st.Prices["marketing"] != 0.0625 || len(st.Prices) != 1 {
			t.Fatalf("stored %+v %v", st, err)
		}
		if p := e.browser.get("/broadcasts/settings?saved=1"); !strings.Contains(p.Body, "PARAR\nSAIR</textarea>") || !strings.Contains(p.Body, `value="0.0625"`) ||
			!strings.Contains(p.Body, `id="settings-saved"`) {
			t.Errorf("the saved settings are not shown:\n%s", p.Body)
		}
	})
}

// Another tenant's broadcast is not found, on every route; it is neither
// shown nor cancelled.
func TestBroadcastOfAnotherTenantIsNotFound(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newBroadcastEnv(t, engine, 1)
		bolt := e.tenantWithUser("Bolt", "bo@bolt.test", parley.UserAdmin)
		theirs := seed(t, e.st, bolt.ID, "Bruno", "02")
		if err := e.st.ReplaceSyncedTemplates(context.Background(), bolt.ID, theirs.Channel.ID, []store.SyncedTemplate{
			{Name: "winter_sale", Language: "en_US", Status: "APPROVED", Category: "MARKETING", BodyParams: 1}}); err != nil {
			t.Fatal(err)
		}
		their := e.create("Bolt blast", bolt, theirs.Channel.ID)
		for _, p := range []page{
			e.browser.get("/broadcasts/" + their.ID),
			e.browser.get("/broadcasts/" + their.ID + "?outcome=pending"),
			e.browser.post("/broadcasts/"+their.ID+"/cancel", url.Values{"csrf_token": {e.token}}),
		} {
			if p.Status != http.StatusNotFound || strings.Contains(p.Body, "Bolt blast") || strings.Contains(p.Body, "Bruno") {
				t.Errorf("another tenant's broadcast: %d, want 404 showing nothing of theirs", p.Status)
			}
		}
		if got, _ := e.st.GetBroadcast(context.Background(), bolt.ID, their.ID); got.Status != store.BroadcastScheduled {
			t.Errorf("their broadcast was %s", got.Status)
		}
		if p := e.browser.get("/broadcasts"); strings.Contains(p.Body, "Bolt blast") || strings.Contains(p.Body, their.ID) {
			t.Error("the list shows another tenant's broadcast")
		}
		// Their channel is no channel of ours: refused, nothing stored.
		p := e.browser.post("/broadcasts/new", url.Values{"csrf_token": {e.token}, "channel_id": {theirs.Channel.ID}, "template": {"winter_sale"}, "parameters": {"x"}})
		if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "the tenant has no channel") || len(e.broadcasts()) != 0 {
			t.Errorf("a broadcast on their channel: %d", p.Status)
		}
	})
}

// An agent (not an admin) sees the broadcasts, and gets 403 on every form.
func TestBroadcastFormsAreForAdmins(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newBroadcastEnv(t, engine, 1)
		b := e.create("Winter sale", e.tenant, e.world.Channel.ID)
		if _, err := dashboard.CreateUser(context.Background(), e.st, dashboard.NewUser{TenantID: e.tenant.ID, Email: "al@acme.test", Name: "Al",
			Role: parley.UserAgent, Password: password}); err != nil {
			t.Fatal(err)
		}
		agent := e.env.browser()
		token := agent.mustSignIn("al@acme.test")
		if p := agent.get("/broadcasts"); p.Status != http.StatusOK || !strings.Contains(p.Body, "Winter sale") || strings.Contains(p.Body, "/broadcasts/new") {
			t.Errorf("an agent's list: %d, or it offers New broadcast", p.Status)
		}
		if p := agent.get("/broadcasts/" + b.ID); p.Status != http.StatusOK || strings.Contains(p.Body, `id="cancel-broadcast"`) {
			t.Errorf("an agent's broadcast page: %d, or it offers Cancel", p.Status)
		}
		form := url.Values{"csrf_token": {token}, "channel_id": {e.world.Channel.ID}, "template": {"winter_sale"}, "parameters": {"x"}, "rate": {"5"}}
		for _, p := range []page{
			agent.get("/broadcasts/new"), agent.post("/broadcasts/new", form),
			agent.get("/broadcasts/settings"), agent.post("/broadcasts/settings", form),
			agent.post("/broadcasts/"+b.ID+"/cancel", form),
		} {
			if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "Only admins can open this page.") {
				t.Errorf("an agent on an admin form: %d, want 403", p.Status)
			}
		}
		if got := e.broadcasts(); len(got) != 1 || got[0].Status != store.BroadcastScheduled {
			t.Errorf("an agent changed the broadcasts: %+v", got)
		}
		if st, _ := e.st.GetBroadcastSettings(context.Background(), e.tenant.ID); st.UpdatedAt != nil {
			t.Error("an agent saved the settings")
		}
	})
}

package dashboard

import (
	"net/http"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/hooks"
	"github.com/parleyhq/parley/store"
)

// Settings → Webhooks: the tenant's subscriptions, created and switched on
// and off here as with the API, and each one's deliveries.

type webhooksData struct {
	Tab    string
	Subs   []parley.WebhookSubscription
	Pager  Pager
	Form   *Form
	Secret string // set once, right after creating a subscription
}

func (d *Dashboard) webhookList(w http.ResponseWriter, r *http.Request, s *Session) error {
	f := newForm()
	f.Values["events"] = "*"
	return d.showWebhooks(w, r, s, http.StatusOK, f, "")
}

func (d *Dashboard) showWebhooks(w http.ResponseWriter, r *http.Request, s *Session, status int, f *Form, secret string) error {
	subs, next, err := d.store.ListWebhookSubscriptions(r.Context(), s.TenantID, store.Page{Limit: listSize, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	return d.render(w, r, s, status, "settings_webhooks", webhooksData{Tab: "webhooks", Subs: subs, Pager: pager(r, "cursor", next), Form: f, Secret: secret})
}

// createWebhook checks the form as the API does (same messages) and shows
// the secret in this one answer.
func (d *Dashboard) createWebhook(w http.ResponseWriter, r *http.Request, s *Session) error {
	f := readForm(r, "url", "events", "description")
	f.Require(2000, "url", "events")
	f.Max(500, "description")
	if !f.OK() {
		return d.showWebhooks(w, r, s, http.StatusUnprocessableEntity, f, "")
	}
	var events []string
	for _, e := range strings.FieldsFunc(f.Get("events"), func(r rune) bool { return r == ',' || r == '\n' }) {
		if e = strings.TrimSpace(e); e != "" {
			events = append(events, e)
		}
	}
	url, desc := f.Get("url"), f.Get("description")
	sub, err := d.webhooks.Create(r.Context(), s.TenantID, hooks.Input{URL: &url, Events: &events, Description: &desc})
	if f.Absorb(err, "url") {
		return d.showWebhooks(w, r, s, http.StatusUnprocessableEntity, f, "")
	}
	if err != nil {
		return err
	}
	d.log.InfoContext(r.Context(), "webhook subscription created from the dashboard", "tenant_id", s.TenantID, "subscription_id", sub.ID, "user_id", s.UserID)
	fresh := newForm()
	fresh.Values["events"] = "*"
	return d.showWebhooks(w, r, s, http.StatusCreated, fresh, sub.Secret)
}

func (d *Dashboard) toggleWebhook(w http.ResponseWriter, r *http.Request, s *Session) error {
	on := r.PostFormValue("active") == "true"
	if _, err := d.webhooks.Update(r.Context(), s.TenantID, r.PathValue("id"), hooks.Input{Active: &on}); err != nil {
		return err
	}
	d.log.InfoContext(r.Context(), "webhook subscription toggled from the dashboard", "tenant_id", s.TenantID, "subscription_id", r.PathValue("id"), "active", on, "user_id", s.UserID)
	return redirect(w, r, "/settings/webhooks")
}

type webhookDeliveriesData struct {
	Tab        string
	Sub        parley.WebhookSubscription
	Deliveries []parley.WebhookDelivery
	Pager      Pager
}

func (d *Dashboard) webhookDeliveries(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	sub, err := d.store.GetWebhookSubscription(ctx, s.TenantID, r.PathValue("id"))
	if err != nil {
		return err
	}
	items, next, err := d.store.ListWebhookDeliveries(ctx, s.TenantID, sub.ID, store.Page{Limit: listSize, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	return d.render(w, r, s, http.StatusOK, "settings_webhook", webhookDeliveriesData{Tab: "webhooks", Sub: sub, Deliveries: items, Pager: pager(r, "cursor", next)})
}

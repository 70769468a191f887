package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/dashboard"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/hooks"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

func TestWebhooksPage(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, func(d *dashboard.Deps) {
			withServices(t)(d)
			d.Webhooks = &hooks.Service{Store: d.Store, Clock: d.Clock, Known: func(n string) bool { return n == event.TicketOpened }}
		})
		tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
		w := seed(t, e.st, tn.ID, "Alice", "01")
		b := e.browser()
		token := b.mustSignIn("ana@acme.test")

		bad := b.post("/settings/webhooks", url.Values{"csrf_token": {token}, "url": {"https://crm.example.com/hook"}, "events": {"Ticket Opened, Nope"}})
		if bad.Status != http.StatusUnprocessableEntity || !strings.Contains(bad.Body, "Nope&#34; is not an event of the catalog") {
			t.Fatalf("unknown event: %d\n%s", bad.Status, bad.Body)
		}
		if subs, _, _ := e.st.ListWebhookSubscriptions(context.Background(), tn.ID, store.Page{}); len(subs) != 0 {
			t.Fatalf("a refused form created %d subscriptions", len(subs))
		}

		ok := b.post("/settings/webhooks", url.Values{"csrf_token": {token}, "url": {"https://crm.example.com/hook"}, "events": {"Ticket Opened"}})
		subs, _, _ := e.st.ListWebhookSubscriptions(context.Background(), tn.ID, store.Page{})
		if ok.Status != http.StatusCreated || len(subs) != 1 || !strings.Contains(ok.Body, `id="new-secret" readonly value="`+subs[0].Secret+`"`) {
			t.Fatalf("create: %d, %d subscriptions\n%s", ok.Status, len(subs), ok.Body)
		}
		if list := b.get("/settings/webhooks"); strings.Contains(list.Body, subs[0].Secret) || !strings.Contains(list.Body, `data-id="`+subs[0].ID+`" data-active="true"`) {
			t.Fatalf("list shows the secret again or lacks the row:\n%s", list.Body)
		}

		err := e.st.InTx(context.Background(), func(q *store.Queries) error {
			err := q.AppendEvent(context.Background(), tn.ID, w.Conv.ID, event.TicketOpened, event.TicketPayload{TicketID: "t"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		d := b.get("/settings/webhooks/" + subs[0].ID)
		if d.Status != http.StatusOK || !strings.Contains(d.Body, `data-status="pending"`) || !strings.Contains(d.Body, "Ticket Opened") {
			t.Fatalf("deliveries page: %d\n%s", d.Status, d.Body)
		}

		off := b.post("/settings/webhooks/"+subs[0].ID+"/active", url.Values{"csrf_token": {token}, "active": {"false"}})
		if off.Status != http.StatusSeeOther {
			t.Fatalf("switch off: %d %s", off.Status, off.Body)
		}
		if list := b.get("/settings/webhooks"); !strings.Contains(list.Body, `data-active="false"`) {
			t.Fatalf("switched off, the list says otherwise:\n%s", list.Body)
		}
	})
}

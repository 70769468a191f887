package hooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/conversation"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/eventbus"
	"github.com/parleyhq/parley/hooks"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

var start = time.Date(2030, 3, 6, 12, 0, 0, 0, time.UTC)

// allowLoopback lets deliveries reach the test's receivers on loopback
// (PARLEY_OUTBOUND_ALLOW=127.0.0.0/8), as an operator may allow a range.
func allowLoopback(c *config.Config) {
	c.JobRescueAfter = 100 * 365 * 24 * time.Hour
	c.OutboundAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
}

// receiver is a tenant's endpoint: it answers with the statuses it is given
// in turn (the last one from then on) and keeps what it got.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []*http.Request
	bodies   [][]byte
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got, r.bodies = append(r.got, req), append(r.bodies, b)
		status := r.statuses[min(len(r.got), len(r.statuses))-1]
		r.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, http.StatusText(status))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *receiver) request(i int) (*http.Request, []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[i], r.bodies[i]
}

type deliveries struct {
	Items []parley.WebhookDelivery `json:"items"`
}

func TestWebhookDeliveredSignedRetriedAndVisible(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		clk := clock.NewFake(start)
		p := apptest.Start(t, engine, clk, allowLoopback)
		tenant, key := p.Tenant("Acme")
		_, otherKey := p.Tenant("Other")
		rcv := newReceiver(t, 500, 200)

		// Bad input is refused with the field named, and creates nothing.
		for _, bad := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"events": []string{"*"}}, "url"},
			{map[string]any{"url": "ftp://example.com/x", "events": []string{"*"}}, "url"},
			{map[string]any{"url": rcv.URL}, "events"},
			{map[string]any{"url": rcv.URL, "events": []string{"Ticket Opened", "Nope"}}, "events"},
			{map[string]any{"url": rcv.URL, "events": []string{"*", "Ticket Opened"}}, "events"},
		} {
			r := p.Do("POST", "/api/webhook-subscriptions", key, bad.body)
			var body struct {
				Error struct{ Code, Field string }
			}
			r.JSON(t, &body)
			if r.Status != http.StatusUnprocessableEntity || body.Error.Field != bad.field {
				t.Errorf("POST %v = %d %s, want 422 naming %s", bad.body, r.Status, r.Body, bad.field)
			}
		}

		r := p.Do("POST", "/api/webhook-subscriptions", key, map[string]any{"url": rcv.URL, "events": []string{event.TextMessageReceived}})
		if r.Status != http.StatusCreated {
			t.Fatalf("create = %d %s", r.Status, r.Body)
		}
		var sub parley.WebhookSubscription
		r.JSON(t, &sub)
		if !strings.HasPrefix(sub.Secret, "whsec_") || !sub.Active {
			t.Fatalf("created %+v", sub)
		}
		if g := p.Do("GET", "/api/webhook-subscriptions/"+sub.ID, key, nil); strings.Contains(string(g.Body), sub.Secret) {
			t.Fatal("the secret is shown again")
		}
		if g := p.Do("GET", "/api/webhook-subscriptions/"+sub.ID+"/deliveries", otherKey, nil); g.Status != http.StatusNotFound {
			t.Fatalf("another tenant reads the deliveries: %d", g.Status)
		}

		conv := customerWrites(t, p, tenant, "+5511999990401")
		ticketEvent(t, p, conv) // not subscribed: never sent

		apptest.Eventually(t, "the first attempt", func() bool { return rcv.count() == 1 })
		req, body := rcv.request(0)
		if err := hooks.Verify(sub.Secret, req.Header.Get("Parley-Signature"), body, clk.Now(), 5*time.Minute); err != nil {
			t.Fatalf("signature: %v (%s)", err, req.Header.Get("Parley-Signature"))
		}
		if err := hooks.Verify("whsec_wrong", req.Header.Get("Parley-Signature"), body, clk.Now(), 5*time.Minute); err == nil {
			t.Fatal("a wrong secret verifies")
		}
		var ce eventbus.CloudEvent
		if err := json.Unmarshal(body, &ce); err != nil || ce.EventName != event.TextMessageReceived || ce.ConversationID != conv.ID || ce.SpecVersion != "1.0" {
			t.Fatalf("body = %s (%v)", body, err)
		}
		var ds deliveries
		apptest.Eventually(t, "the failed attempt recorded", func() bool {
			p.Do("GET", "/api/webhook-subscriptions/"+sub.ID+"/deliveries", key, nil).JSON(t, &ds)
			return len(ds.Items) == 1 && ds.Items[0].LastStatusCode == 500
		})
		d := ds.Items[0]
		if d.Status != parley.DeliveryPending || d.Attempts != 1 || d.LastResponse != "Internal Server Error" || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(start.Add(30*time.Second)) {
			t.Fatalf("after a 500: %+v", d)
		}

		clk.Advance(31 * time.Second)
		apptest.Eventually(t, "the retry delivered", func() bool {
			p.Do("GET", "/api/webhook-subscriptions/"+sub.ID+"/deliveries", key, nil).JSON(t, &ds)
			return len(ds.Items) == 1 && ds.Items[0].Status == parley.DeliveryDelivered
		})
		if d := ds.Items[0]; d.Attempts != 2 || d.LastStatusCode != 200 || d.DeliveredAt == nil || rcv.count() != 2 {
			t.Fatalf("after the retry: %+v, %d requests", d, rcv.count())
		}
		if _, b := rcv.request(1); string(b) != string(body) {
			t.Fatalf("the retry sent %s, the first %s", b, body)
		}
	})
}

func TestWebhookThatKeepsFailingIsSwitchedOffWithTheReason(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		clk := clock.NewFake(start)
		p := apptest.Start(t, engine, clk, allowLoopback)
		tenant, key := p.Tenant("Acme")
		rcv := newReceiver(t, 503)
		r := p.Do("POST", "/api/webhook-subscriptions", key, map[string]any{"url": rcv.URL, "events": []string{"*"}})
		var sub parley.WebhookSubscription
		r.JSON(t, &sub)
		customerWrites(t, p, tenant, "+5511999990402")
		apptest.Eventually(t, "the first attempt", func() bool { return rcv.count() == 1 })
		for i, step := range []time.Duration{31 * time.Second, time.Minute + time.Second, 24 * time.Hour} {
			apptest.Eventually(t, "the attempt recorded", func() bool {
				var ds deliveries
				p.Do("GET", "/api/webhook-subscriptions/"+sub.ID+"/deliveries", key, nil).JSON(t, &ds)
				return len(ds.Items) == 1 && ds.Items[0].Attempts == i+1 && ds.Items[0].LastStatusCode == 503
			})
			clk.Advance(step)
		}
		apptest.Eventually(t, "the subscription switched off", func() bool {
			var got parley.WebhookSubscription
			p.Do("GET", "/api/webhook-subscriptions/"+sub.ID, key, nil).JSON(t, &got)
			return !got.Active && strings.Contains(got.DisabledReason, "HTTP 503")
		})
		var ds deliveries
		p.Do("GET", "/api/webhook-subscriptions/"+sub.ID+"/deliveries", key, nil).JSON(t, &ds)
		if ds.Items[0].Status != parley.DeliveryFailed || ds.Items[0].Attempts != 4 {
			t.Fatalf("delivery after a day of failures: %+v", ds.Items[0])
		}
		// Events while it is off are not queued; switching it on clears the reason.
		customerWrites(t, p, tenant, "+5511999990403")
		var on parley.WebhookSubscription
		p.Do("PATCH", "/api/webhook-subscriptions/"+sub.ID, key, map[string]any{"active": true}).JSON(t, &on)
		if !on.Active || on.DisabledReason != "" {
			t.Fatalf("switched on again: %+v", on)
		}
		p.Do("GET", "/api/webhook-subscriptions/"+sub.ID+"/deliveries", key, nil).JSON(t, &ds)
		if len(ds.Items) != 1 {
			t.Fatalf("%d deliveries, want the one made while the subscription was on", len(ds.Items))
		}
	})
}

func customerWrites(t *testing.T, p *apptest.Parley, tenant parley.Tenant, phone string) parley.Conversation {
	t.Helper()
	ctx := context.Background()
	ch, err := p.Store.CreateChannel(ctx, parley.Channel{TenantID: tenant.ID, Type: parley.ChannelWhatsApp, Name: "Main " + phone,
		PhoneNumberID: strings.TrimPrefix(phone, "+"), AccessToken: "token", Active: true})
	if err != nil {
		t.Fatal(err)
	}
	var conv parley.Conversation
	svc := &conversation.Service{Outbox: p.Outbox}
	err = p.Store.InTx(ctx, func(q *store.Queries) error {
		conv, _, _, err = svc.Append(ctx, q, channel.Inbound{TenantID: tenant.ID, Channel: ch, Phone: phone,
			Message: parley.Message{Type: parley.MessageText, Content: "Hi", ChannelMessageID: "wamid." + phone}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return conv
}

func ticketEvent(t *testing.T, p *apptest.Parley, conv parley.Conversation) {
	t.Helper()
	err := p.Store.InTx(context.Background(), func(q *store.Queries) error {
		err := q.AppendEvent(context.Background(), conv.TenantID, conv.ID, event.TicketOpened, event.TicketPayload{TicketID: "t1"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Without the operator's leave, a tenant's endpoint on loopback (or any
// private address) is never connected to: the attempt fails saying what
// was refused, and the receiver hears nothing.
func TestWebhookToAPrivateAddressIsRefused(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		clk := clock.NewFake(start)
		p := apptest.Start(t, engine, clk, func(c *config.Config) { c.JobRescueAfter = 100 * 365 * 24 * time.Hour })
		tenant, key := p.Tenant("Acme")
		rcv := newReceiver(t, 200)
		var sub parley.WebhookSubscription
		p.Do("POST", "/api/webhook-subscriptions", key, map[string]any{"url": rcv.URL, "events": []string{"*"}}).JSON(t, &sub)
		customerWrites(t, p, tenant, "+5511999990404")
		var ds deliveries
		apptest.Eventually(t, "the refused attempt recorded", func() bool {
			p.Do("GET", "/api/webhook-subscriptions/"+sub.ID+"/deliveries", key, nil).JSON(t, &ds)
			return len(ds.Items) == 1 && ds.Items[0].Attempts == 1
		})
		if d := ds.Items[0]; d.Status != parley.DeliveryPending || d.LastStatusCode != 0 || !strings.Contains(d.LastError, "refused: a loopback address") {
			t.Fatalf("delivery to loopback: %+v", d)
		}
		if rcv.count() != 0 {
			t.Fatalf("the receiver on loopback got %d requests", rcv.count())
		}
	})
}

// An endpoint that refuses one kind of event but takes the others keeps its
// subscription: the refused delivery fails after a day, the rest go on.
func TestWebhookRefusingOneEventKeepsTheSubscription(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		clk := clock.NewFake(start)
		p := apptest.Start(t, engine, clk, allowLoopback)
		tenant, key := p.Tenant("Acme")
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Parley-Event") == event.TicketOpened {
				w.WriteHeader(http.StatusBadRequest) // an event type this endpoint does not know
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		t.Cleanup(srv.Close)
		var sub parley.WebhookSubscription
		p.Do("POST", "/api/webhook-subscriptions", key, map[string]any{"url": srv.URL, "events": []string{"*"}}).JSON(t, &sub)
		conv := customerWrites(t, p, tenant, "+5511999990405")
		ticketEvent(t, p, conv)
		ticket := func() parley.WebhookDelivery {
			var ds deliveries
			p.Do("GET", "/api/webhook-subscriptions/"+sub.ID+"/deliveries?limit=200", key, nil).JSON(t, &ds)
			for _, d := range ds.Items {
				if d.EventName == event.TicketOpened {
					return d
				}
			}
			return parley.WebhookDelivery{}
		}
		delivered := func() int {
			var ds deliveries
			p.Do("GET", "/api/webhook-subscriptions/"+sub.ID+"/deliveries?limit=200", key, nil).JSON(t, &ds)
			n := 0
			for _, d := range ds.Items {
				if d.Status == parley.DeliveryDelivered {
					n++
				}
			}
			return n
		}
		apptest.Eventually(t, "the first refusal", func() bool { return ticket().Attempts == 1 })
		for step := 0; ticket().Status == parley.DeliveryPending; step++ {
			if step > 20 {
				t.Fatalf("the refused delivery never gave up: %+v", ticket())
			}
			if clk.Now().After(start.Add(12 * time.Hour)) {
				// The endpoint keeps taking other events.
				before := delivered()
				customerWrites(t, p, tenant, fmt.Sprintf("+55119999905%02d", step))
				apptest.Eventually(t, "the other event delivered", func() bool { return delivered() > before })
			}
			n := ticket().Attempts
			clk.Advance(6 * time.Hour)
			apptest.Eventually(t, "the next attempt", func() bool { d := ticket(); return d.Attempts > n || d.Status != parley.DeliveryPending })
		}
		if d := ticket(); d.Status != parley.DeliveryFailed || d.LastStatusCode != 400 {
			t.Fatalf("the refused delivery: %+v", d)
		}
		var got parley.WebhookSubscription
		p.Do("GET", "/api/webhook-subscriptions/"+sub.ID, key, nil).JSON(t, &got)
		if !got.Active || got.DisabledReason != "" {
			t.Fatalf("a working endpoint's subscription was switched off: %+v", got)
		}
	})
}

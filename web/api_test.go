package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

func eachEngine(t *testing.T, fn func(t *testing.T, p *apptest.Parley)) {
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) { fn(t, apptest.Start(t, e, nil, nil)) })
}

// seed creates one object of every kind in a tenant and returns their ids
// by the collection path they live under.
func seed(t *testing.T, p *apptest.Parley, key string, tenantID string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	create := func(path string, body any) {
		r := p.Do("POST", path, key, body)
		if r.Status != http.StatusCreated {
			t.Fatalf("POST %s = %d %s", path, r.Status, r.Body)
		}
		ids[path] = r.Map(t)["id"].(string)
	}
	// A Twilio channel: it sends templates (a broadcast below), taking its
	// Content SID on trust.
	create("/api/channels", map[string]any{"type": "twilio", "name": "Twilio", "display_number": "+15550001111",
		"settings": map[string]string{"account_sid": "AC00000000000000000000000000000000", "auth_token": "secret"}})
	create("/api/customers", map[string]any{"phone": "+55 11 99999-0000", "name": "Ana"})
	create("/api/staff", map[string]any{"phone": "+5511988887777", "name": "Bia", "type": "sales"})
	create("/api/agents", map[string]any{"name": "Caio"})
	create("/api/documents", map[string]any{"title": "Opening hours", "body": "We open at 9."})
	create("/api/api-keys", map[string]any{"name": "ci"})
	create("/api/webhook-subscriptions", map[string]any{"url": "https://hooks.example.com/parley", "events": []string{"*"}})
	seedLeads(t, p, key, ids)
	create("/api/followup-rules", map[string]any{"title": "Nudge", "message": "Still there?", "delay": "2h", "channel_ids": []string{ids["/api/channels"]}})
	create("/api/appointments", map[string]any{"customer_id": ids["/api/customers"], "starts_at": "2030-01-02T10:00:00Z"})
	conv, err := p.Store.CreateConversation(context.Background(), parley.Conversation{TenantID: tenantID, ContactPhone: "+5511999990000"})
	if err != nil {
		t.Fatal(err)
	}
	ids["/api/conversations"] = conv.ID
	ticket, err := p.Store.CreateTicket(context.Background(), parley.Ticket{TenantID: tenantID, ConversationID: conv.ID, Reason: "seed"})
	if err != nil {
		t.Fatal(err)
	}
	ids["/api/tickets"] = ticket.ID
	n, err := p.Store.CreateNotification(context.Background(), parley.Notification{TenantID: tenantID, Type: parley.NotificationQuestion,
		ConversationID: conv.ID, Requested: map[string]string{"question": "seed?"}, AnswerSchema: map[string]any{"type": "object"}})
	if err != nil {
		t.Fatal(err)
	}
	ids["/api/notifications"] = n.ID
	create("/api/broadcasts", map[string]any{"channel_id": ids["/api/channels"], "template_name": "HX00000000000000000000000000000000",
		"send_at": "2030-01-01T09:00:00Z"})
	return ids
}

type route struct{ method, path string }

// idRoutes reads every operation with an {id} from the OpenAPI document, so
// a new route cannot escape the isolation test.
func idRoutes(t *testing.T, p *apptest.Parley) []route {
	t.Helper()
	r := p.Do("GET", "/openapi.json", "", nil)
	if r.Status != 200 {
		t.Fatalf("openapi.json = %d", r.Status)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	r.JSON(t, &doc)
	var out []route
	for path, ops := range doc.Paths {
		if !strings.Contains(path, "{id}") {
			continue
		}
		for method := range ops {
			out = append(out, route{strings.ToUpper(method), path})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path+out[i].method < out[j].path+out[j].method })
	if len(out) < 15 {
		t.Fatalf("only %d id routes in the OpenAPI document", len(out))
	}
	return out
}

func TestTenantIsolationOnEveryIDRoute(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, p *apptest.Parley) {
		a, keyA := p.Tenant("A")
		_, keyB := p.Tenant("B")
		ids := seed(t, p, keyA, a.ID)
		for _, rt := range idRoutes(t, p) {
			collection := rt.path[:strings.Index(rt.path, "/{id}")]
			id, ok := ids[collection]
			if !ok {
				t.Fatalf("no seeded object for %s %s: add one to seed", rt.method, rt.path)
			}
			path := strings.Replace(rt.path, "{id}", id, 1)
			body := map[string]any{}
			if got := p.Do(rt.method, path, keyB, body); got.Status != http.StatusNotFound || got.ErrorCode() != "not_found" {
				t.Errorf("%s %s with another tenant's key = %d %s, want 404 not_found", rt.method, rt.path, got.Status, got.Body)
			}
			if got := p.Do(rt.method, path, "", body); got.Status != http.StatusUnauthorized || got.ErrorCode() != "unauthorized" {
				t.Errorf("%s %s without a key = %d, want 401", rt.method, rt.path, got.Status)
			}
			if got := p.Do(rt.method, path, "pk_wrong", body); got.Status != http.StatusUnauthorized {
				t.Errorf("%s %s with a wrong key = %d, want 401", rt.method, rt.path, got.Status)
			}
		}
		// Nothing B did changed A's objects.
		for collection, id := range ids {
			if collection == "/api/api-keys" {
				continue
			}
			if got := p.Do("GET", collection+"/"+id, keyA, nil); got.Status != http.StatusOK {
				t.Errorf("A's %s %s = %d after B's attempts", collection, id, got.Status)
			}
		}
		if got := p.Do("GET", "/api/customers", keyA, nil); got.Status != 200 {
			t.Fatalf("list = %d", got.Status)
		}
	})
}

func TestListsShowOnlyTheKeysTenant(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, p *apptest.Parley) {
		a, keyA := p.Tenant("A")
		_, keyB := p.Tenant("B")
		seed(t, p, keyA, a.ID)
		for _, path := range []string{"/api/channels", "/api/customers", "/api/staff", "/api/agents", "/api/documents", "/api/conversations"} {
			var page struct {
				Items []map[string]any `json:"items"`
			}
			p.Do("GET", path, keyB, nil).JSON(t, &page)
			if len(page.Items) != 0 {
				t.Errorf("B lists %d of A's %s", len(page.Items), path)
			}
			p.Do("GET", path, keyA, nil).JSON(t, &page)
			if len(page.Items) != 1 {
				t.Errorf("A lists %d %s, want 1", len(page.Items), path)
			}
		}
	})
}

func TestRevokedKeyIsRefused(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, p *apptest.Parley) {
		_, key := p.Tenant("A")
		r := p.Do("POST", "/api/api-keys", key, map[string]any{"name": "temp"})
		var k struct{ ID, Key string }
		r.JSON(t, &k)
		if got := p.Do("GET", "/api/tenant", k.Key, nil); got.Status != 200 {
			t.Fatalf("new key = %d", got.Status)
		}
		if got := p.Do("DELETE", "/api/api-keys/"+k.ID, key, nil); got.Status != http.StatusNoContent {
			t.Fatalf("revoke = %d %s", got.Status, got.Body)
		}
		if got := p.Do("GET", "/api/tenant", k.Key, nil); got.Status != http.StatusUnauthorized {
			t.Fatalf("revoked key = %d, want 401", got.Status)
		}
	})
}

func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, p *apptest.Parley) {
		_, key := p.Tenant("A")
		cases := []struct {
			name, method, path string
			body               any
			status             int
			code, field        string
		}{
			{"broken json", "POST", "/api/customers", `{"phone": `, 400, "invalid_request", ""},
			{"wrong type", "POST", "/api/customers", `{"phone": 5511}`, 422, "validation_failed", "phone"},
			{"missing phone", "POST", "/api/customers", map[string]any{"name": "x"}, 422, "validation_failed", "phone"},
			{"bad phone", "POST", "/api/customers", map[string]any{"phone": "call me"}, 422, "validation_failed", "phone"},
			{"unknown field type", "POST", "/api/channels", map[string]any{"type": "fax", "name": "x"}, 422, "validation_failed", "type"},
			{"whatsapp without token", "POST", "/api/channels", map[string]any{"type": "whatsapp", "name": "x", "phone_number_id": "1"}, 422, "validation_failed", "access_token"},
			{"bad test sender", "POST", "/api/channels", map[string]any{"type": "email", "name": "x", "test_senders": []string{"abc"}}, 422, "validation_failed", "test_senders"},
			{"bad staff type", "POST", "/api/staff", map[string]any{"phone": "+5511988887777", "type": "sales team!"}, 422, "validation_failed", "type"},
			{"empty title", "POST", "/api/documents", map[string]any{"title": ""}, 422, "validation_failed", "title"},
			{"bad time zone", "PATCH", "/api/tenant", map[string]any{"time_zone": "Mars/Olympus"}, 422, "validation_failed", "time_zone"},
			{"bad hours", "PATCH", "/api/tenant", map[string]any{"availability": map[string]any{"monday": []map[string]string{{"start": "18:00", "end": "09:00"}}}}, 422, "validation_failed", "availability"},
			{"unknown id", "GET", "/api/customers/0192f0e0-0000-7000-8000-000000000000", nil, 404, "not_found", ""},
			{"unknown conversation", "GET", "/api/conversations/nope/events", nil, 404, "not_found", ""},
			{"huge limit", "GET", "/api/customers?limit=100000", nil, 422, "validation_failed", "limit"},
			// campaign.CheckSettings, which the dashboard's settings form calls too.
			{"negative price", "PUT", "/api/broadcast-settings", map[string]any{"prices": map[string]float64{"marketing": -1}}, 422, "validation_failed", "prices.marketing"},
			{"unknown price category", "PUT", "/api/broadcast-settings", map[string]any{"prices": map[string]float64{"promo": 1}}, 422, "validation_failed", "prices.promo"},
			{"blank opt-out word", "PUT", "/api/broadcast-settings", map[string]any{"opt_out_words": []string{"PARAR", " "}}, 422, "validation_failed", "opt_out_words"},
		}
		for _, tc := range cases {
			r := p.Do(tc.method, tc.path, key, tc.body)
			if r.Status != tc.status || r.ErrorCode() != tc.code {
				t.Errorf("%s: %d %s, want %d %s", tc.name, r.Status, r.Body, tc.status, tc.code)
				continue
			}
			if tc.field != "" {
				var e struct {
					Error struct{ Field string } `json:"error"`
				}
				r.JSON(t, &e)
				if !strings.Contains(e.Error.Field, tc.field) {
					t.Errorf("%s: field %q, want %q (%s)", tc.name, e.Error.Field, tc.field, r.Body)
				}
			}
		}
		for _, path := range []string{"/api/customers", "/api/channels", "/api/staff", "/api/documents"} {
			var page struct{ Items []any }
			p.Do("GET", path, key, nil).JSON(t, &page)
			if len(page.Items) != 0 {
				t.Errorf("%s holds %d items after only bad requests", path, len(page.Items))
			}
		}
		var settings struct {
			UpdatedAt *string `json:"updated_at"`
		}
		if p.Do("GET", "/api/broadcast-settings", key, nil).JSON(t, &settings); settings.UpdatedAt != nil {
			t.Error("broadcast settings stored by bad input")
		}
		var tn parley.Tenant
		p.Do("GET", "/api/tenant", key, nil).JSON(t, &tn)
		if tn.TimeZone != "UTC" || len(tn.Availability) != 0 {
			t.Errorf("tenant changed by bad input: %+v", tn)
		}
	})
}

func TestChannelSecretsAreNeverShown(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, p *apptest.Parley) {
		_, key := p.Tenant("A")
		r := p.Do("POST", "/api/channels", key, map[string]any{"type": "twilio", "name": "Twilio", "display_number": "+14155550100",
			"settings": map[string]string{"account_sid": "AC123", "auth_token": "tw-secret-123"}})
		if r.Status != 201 {
			t.Fatalf("create = %d %s", r.Status, r.Body)
		}
		id := r.Map(t)["id"].(string)
		for _, got := range []apptest.Response{r, p.Do("GET", "/api/channels/"+id, key, nil), p.Do("GET", "/api/channels", key, nil),
			p.Do("PATCH", "/api/channels/"+id, key, map[string]any{"name": "Renamed"})} {
			if strings.Contains(string(got.Body), "tw-secret-123") {
				t.Fatalf("secret in API output: %s", got.Body)
			}
		}
		ch, err := p.Store.GetChannel(context.Background(), mustTenant(t, p, key), id)
		if err != nil || ch.Settings["auth_token"] != "tw-secret-123" || ch.Name != "Renamed" {
			t.Fatalf("stored channel lost its secret on a patch: %+v %v", ch.Settings, err)
		}
	})
}

func mustTenant(t *testing.T, p *apptest.Parley, key string) string {
	t.Helper()
	tn, err := p.Store.TenantByAPIKey(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

func TestHealthAndMetrics(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, p *apptest.Parley) {
		if r := p.Do("GET", "/healthz", "", nil); r.Status != 200 {
			t.Fatalf("healthz = %d", r.Status)
		}
		r := p.Do("GET", "/readyz", "", nil)
		if r.Status != 200 || r.Map(t)["database"] != string(p.Store.Engine()) {
			t.Fatalf("readyz = %d %s", r.Status, r.Body)
		}
		p.Do("GET", "/api/tenant", "", nil)
		m := p.Do("GET", "/metrics", "", nil)
		if m.Status != 200 || !strings.Contains(string(m.Body), `parley_http_requests_total{code="401",route="GET /api/tenant"}`) {
			t.Fatalf("metrics do not count the 401:\n%.2000s", m.Body)
		}
	})
}

// operation is one /api route and method from the OpenAPI document, with
// its path's {id} filled in.
type operation struct{ method, path, concrete string }

// apiOperations lists every /api operation the OpenAPI document names.
func apiOperations(t *testing.T, p *apptest.Parley) []operation {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	p.Do("GET", "/openapi.json", "", nil).JSON(t, &doc)
	var out []operation
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/api/") {
			continue
		}
		for method := range ops {
			concrete := strings.NewReplacer("{id}", "0192f0e0-0000-7000-8000-000000000000").Replace(path)
			out = append(out, operation{method: method, path: path, concrete: concrete})
		}
	}
	return out
}

// A list route whose answer pages (next_cursor) takes cursor and limit: an
// input that embeds an unexported struct loses them silently, and the
// client pages over the first page forever.
func TestEveryPagedRouteTakesCursorAndLimit(t *testing.T) {
	t.Parallel()
	p := apptest.Start(t, store.SQLite, nil, nil)
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct{ Name, In string } `json:"parameters"`
			Responses  map[string]struct {
				Content map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	p.Do("GET", "/openapi.json", "", nil).JSON(t, &doc)
	paged := 0
	for path, ops := range doc.Paths {
		op, ok := ops["get"]
		if !ok {
			continue
		}
		ref := op.Responses["200"].Content["application/json"].Schema.Ref
		schema := doc.Components.Schemas[ref[strings.LastIndex(ref, "/")+1:]]
		if _, ok := schema.Properties["next_cursor"]; !ok {
			continue
		}
		paged++
		var query []string
		for _, prm := range op.Parameters {
			if prm.In == "query" {
				query = append(query, prm.Name)
			}
		}
		if !slices.Contains(query, "cursor") || !slices.Contains(query, "limit") {
			t.Errorf("GET %s pages but takes query %v: embed web.PageParams, not pageInput", path, query)
		}
	}
	if paged < 10 {
		t.Fatalf("only %d paged routes found in the OpenAPI document", paged)
	}
}

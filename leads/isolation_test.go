package leads_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/parleyhq/parley/leads"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// TestTenantIsolation: another tenant's key finds none of this tenant's
// sales objects on any id route, and changes nothing.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, envOpts{copywriter: true})
		res, out := e.followUp(e.key, e.body(map[string]any{"schedule": true, "visitorId": e.visitor}))
		if res.Status != 200 {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		e.waitStep(0, "sent")
		user := e.create("/api/site-users", map[string]any{"site_id": e.siteID, "name": "Maria"})["id"].(string)
		_, other := e.p.Tenant("Intruder")

		routes := []struct{ method, path string }{
			{"GET", "/api/sites/" + e.siteID}, {"PATCH", "/api/sites/" + e.siteID}, {"DELETE", "/api/sites/" + e.siteID},
			{"GET", "/api/leads/" + e.leadID}, {"PATCH", "/api/leads/" + e.leadID}, {"DELETE", "/api/leads/" + e.leadID},
			{"GET", "/api/visitors/" + e.visitor}, {"PATCH", "/api/visitors/" + e.visitor}, {"DELETE", "/api/visitors/" + e.visitor},
			{"GET", "/api/site-users/" + user}, {"PATCH", "/api/site-users/" + user}, {"DELETE", "/api/site-users/" + user},
			{"GET", "/api/site-agents/" + e.sales}, {"PATCH", "/api/site-agents/" + e.sales}, {"DELETE", "/api/site-agents/" + e.sales},
			{"GET", "/api/commands/" + out.Data.CommandIDs.Sales},
			{"GET", "/api/leads/" + e.leadID + "/events"},
			{"GET", "/api/leads/" + e.leadID + "/sequence"}, {"POST", "/api/leads/" + e.leadID + "/sequence"}, {"DELETE", "/api/leads/" + e.leadID + "/sequence"},
			{"POST", "/api/leads/" + e.leadID + "/replies"},
			{"GET", "/api/visitors/" + e.visitor + "/notifications"},
		}
		for _, r := range routes {
			var body any
			switch {
			case r.method == "PATCH":
				body = map[string]any{"name": "taken over"}
			case strings.HasSuffix(r.path, "/replies"):
				body = map[string]any{"channel": "email"}
			case r.method == "POST":
				body = map[string]any{}
			}
			got := e.p.Do(r.method, r.path, other, body)
			if got.Status != 404 {
				t.Errorf("%s %s with another tenant's key: %d %s", r.method, r.path, got.Status, got.Body)
			}
		}
		// Their lists are empty.
		for _, p := range []string{"/api/sites", "/api/leads", "/api/visitors", "/api/site-users", "/api/site-agents", "/api/commands"} {
			if got := e.p.Do("GET", p, other, nil); got.Status != 200 || !strings.Contains(string(got.Body), `"items":[]`) {
				t.Errorf("GET %s: %d %s", p, got.Status, got.Body)
			}
		}
		// The banner answers neither their API key (the site is not found
		// among theirs) nor a wrong site key.
		banner := "/api/sites/" + e.siteID + "/banner?visitor=" + e.visitor
		if got := e.p.Do("GET", banner, other, nil); got.Status != 404 {
			t.Errorf("banner with another tenant's key: %d", got.Status)
		}
		if got := e.p.Do("GET", banner+"&key=site_0000", "", nil); got.Status != 401 {
			t.Errorf("banner with a wrong site key: %d", got.Status)
		}
		// The follow-up call does not find the site for them.
		if _, o := e.followUp(other, e.body(nil)); o.Error == nil || o.Error.Code != leads.CodeSiteNotFound {
			t.Errorf("follow-up with another tenant's key: %+v", o.Error)
		}
		// Nothing changed: the sequence is still active, the site still named.
		if s := e.sequence(); s.Status != "active" {
			t.Errorf("sequence = %s", s.Status)
		}
		if got := e.p.Do("GET", "/api/sites/"+e.siteID, e.key, nil).Map(t); got["name"] != "Acme Website" {
			t.Errorf("site = %v", got)
		}
	})
}

// TestSiteSecretsAndOpenAPI: the SMTP password is never shown, and the
// follow-up call is in the OpenAPI document with its security.
func TestSiteSecretsAndOpenAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, envOpts{})
	raw := string(e.p.Do("GET", "/api/sites/"+e.siteID, e.key, nil).Body)
	if strings.Contains(raw, e.smtp.Password) || !strings.Contains(raw, `"email_password_set":true`) {
		t.Fatalf("site view: %s", raw)
	}
	// A patch without a password keeps the stored one.
	e.p.Do("PATCH", "/api/sites/"+e.siteID, e.key, map[string]any{"email": map[string]any{"host": "127.0.0.1", "from_address": "team@acme.example", "tls": "none"}})
	site, _ := e.p.Store.GetSite(t.Context(), e.tenant.ID, e.siteID)
	if site.Email.Password != e.smtp.Password || site.Email.FromAddress != "team@acme.example" || site.Email.Port != 587 {
		t.Fatalf("email after patch = %+v", site.Email)
	}
	if r := e.p.Do("POST", "/api/sites", e.key, map[string]any{"name": "x", "whatsapp_channel_id": "nope"}); r.Status != 422 {
		t.Fatalf("unknown channel: %d %s", r.Status, r.Body)
	}

	var doc struct {
		Paths map[string]map[string]struct {
			Security  []map[string][]string `json:"security"`
			Responses map[string]any        `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(e.p.Do("GET", "/openapi.json", "", nil).Body, &doc); err != nil {
		t.Fatal(err)
	}
	op, ok := doc.Paths[leads.FollowUpPath]["post"]
	if !ok || len(op.Security) != 1 || op.Responses["422"] == nil || op.Responses["502"] == nil {
		t.Fatalf("openapi entry = %+v", doc.Paths[leads.FollowUpPath])
	}
	for _, p := range []string{"/api/sites/{id}/banner", "/api/visitors/{id}/notifications", "/api/leads/{id}/sequence", "/api/leads/{id}/events"} {
		if doc.Paths[p] == nil {
			t.Errorf("%s missing from /openapi.json", p)
		}
	}
}

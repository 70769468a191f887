package web_test

import (
	"net/http"
	"testing"

	"github.com/parleyhq/parley/app/apptest"
)

// seedLeads adds the sales side's objects to seed: a site with an e-mail
// sender, a lead, a visitor, a representative, a sales persona, and the
// command of one (offline) follow-up.
func seedLeads(t *testing.T, p *apptest.Parley, key string, ids map[string]string) {
	t.Helper()
	create := func(path string, body any) string {
		r := p.Do("POST", path, key, body)
		if r.Status != http.StatusCreated {
			t.Fatalf("POST %s = %d %s", path, r.Status, r.Body)
		}
		ids[path] = r.Map(t)["id"].(string)
		return ids[path]
	}
	site := create("/api/sites", map[string]any{"name": "Shop", "url": "https://shop.example",
		"email": map[string]any{"host": "smtp.shop.example", "from_address": "sales@shop.example"}})
	lead := create("/api/leads", map[string]any{"site_id": site, "name": "Dora", "email": "dora@example.com"})
	create("/api/visitors", map[string]any{"site_id": site, "lead_id": lead})
	create("/api/site-users", map[string]any{"site_id": site, "name": "Rep"})
	create("/api/site-agents", map[string]any{"site_id": site, "role": "sales", "name": "Sam"})
	r := p.Do("POST", "/api/agents/sales/leadFollowUp", key, map[string]any{"siteId": site, "leadId": lead})
	if r.Status != http.StatusOK {
		t.Fatalf("follow-up = %d %s", r.Status, r.Body)
	}
	ids["/api/commands"] = r.Map(t)["data"].(map[string]any)["command_ids"].(map[string]any)["sales"].(string)
}

package web_test

import (
	"testing"

	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/store/storetest"
)

// A channel's credentials check runs as a job; the tenant sees it, and its
// outcome, in GET /api/jobs, and no other tenant does.
func TestJobsAreVisiblePerTenant(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			graph := whatsapptest.NewFakeGraph()
			t.Cleanup(graph.Close)
			graph.AddNumber(whatsapptest.Number{ID: "1060001", Token: "good-token", Display: "+1 555-000-1111", VerifiedName: "Acme"})
			p := apptest.Start(t, e, nil, func(c *config.Config) { c.WhatsAppGraphURL = graph.URL })
			_, keyA := p.Tenant("A")
			_, keyB := p.Tenant("B")

			good := p.Do("POST", "/api/channels", keyA, map[string]any{"type": "whatsapp", "name": "Main", "phone_number_id": "1060001", "access_token": "good-token"})
			bad := p.Do("POST", "/api/channels", keyA, map[string]any{"type": "whatsapp", "name": "Old", "phone_number_id": "1060002", "access_token": "revoked"})
			if good.Status != 201 || bad.Status != 201 {
				t.Fatalf("create channels: %d %d", good.Status, bad.Status)
			}
			type jobs struct {
				Items []struct {
					Kind, State string
					Attempt     int
				}
			}
			var list jobs
			apptest.Eventually(t, "both checks completed", func() bool {
				p.Do("GET", "/api/jobs?kind=check_channel&state=completed", keyA, nil).JSON(t, &list)
				return len(list.Items) == 2
			})
			var ch struct{ Settings map[string]string }
			p.Do("GET", "/api/channels/"+bad.Map(t)["id"].(string), keyA, nil).JSON(t, &ch)
			if ch.Settings["check"] != "failed" || ch.Settings["check_error"] == "" {
				t.Fatalf("a rejected token is not recorded on the channel: %v", ch.Settings)
			}
			p.Do("GET", "/api/channels/"+good.Map(t)["id"].(string), keyA, nil).JSON(t, &ch)
			if ch.Settings["check"] != "ok" || ch.Settings["verified_name"] != "Acme" {
				t.Fatalf("checked channel: %v", ch.Settings)
			}
			p.Do("GET", "/api/jobs", keyB, nil).JSON(t, &list)
			if len(list.Items) != 0 {
				t.Fatalf("tenant B sees %d of A's jobs", len(list.Items))
			}
			if r := p.Do("GET", "/api/jobs?state=exploded", keyA, nil); r.Status != 422 {
				t.Fatalf("bad state filter = %d", r.Status)
			}
		})
	}
}

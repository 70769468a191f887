package leads_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// A site without a template of its own sends the tenant's lead template:
// the tenant's name, language and parameter order reach the Graph API.
func TestLeadStepSendsTheTenantsTemplate(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, envOpts{graph: true})
		ctx := context.Background()
		site, err := e.p.Store.GetSite(ctx, e.tenant.ID, e.siteID)
		if err != nil {
			t.Fatal(err)
		}
		site.WhatsAppTemplate = nil
		if err := e.p.Store.UpdateSite(ctx, site); err != nil {
			t.Fatal(err)
		}
		if r := e.p.Do("PUT", "/api/template-mappings/lead_whatsapp_step/whatsapp", e.key, map[string]any{
			"template_name": "acme_lead_hello", "language": "en_US", "parameters": []string{"title", "first_name"}}); r.Status != 200 {
			t.Fatalf("put mapping = %d %s", r.Status, r.Body)
		}
		res, out := e.followUp(e.key, e.body(map[string]any{"phone_number": "(11) 97777-1234", "followUpInterval": "every 2-3 days", "schedule": true}))
		if res.Status != 200 {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		e.waitStep(0, "sent")
		e.clk.Advance(3 * day)
		e.runDueSteps()
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		sent, err := e.graph.WaitSent(wctx, 1)
		if err != nil {
			t.Fatalf("nothing reached the Graph API: %v", err)
		}
		m := sent[0]
		if strings.TrimPrefix(m.To, "+") != "5511977771234" || m.Template == nil || m.Template.Name != "acme_lead_hello" || m.Template.Language != "en_US" ||
			len(m.Template.BodyParams) != 2 || m.Template.BodyParams[0] != out.Data.Messages["whatsapp"].Title || m.Template.BodyParams[1] != "Jane" {
			t.Fatalf("sent to %s: %s", m.To, m.Body)
		}
	})
}

package leads_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/leads"
	"github.com/parleyhq/parley/llm/llmtest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

func TestFollowUpTwoPhasesReachTheModel(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, envOpts{llm: true, copywriter: true})
		res, out := e.followUp(e.key, e.body(map[string]any{
			"userId": nil, "agent_id": e.sales,
			"leadData": map[string]any{"name": "Jane Q. Smith", "budget_range": "$8000"},
		}))
		if res.Status != 200 || !out.Success || out.Data == nil {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		d := out.Data
		for _, ch := range []string{"email", "whatsapp", "notification", "web"} {
			c := d.Messages[ch]
			if !strings.HasPrefix(c.Message, "Polished: Hi Jane") || c.Title != "Polished "+ch+" for Jane" {
				t.Errorf("%s is not the copywriter's: %+v", ch, c)
			}
			if c.Strategy != "consultative: tie "+ch+" to ROI" {
				t.Errorf("%s lost the sales strategy: %q", ch, c.Strategy)
			}
		}
		l := d.Lead
		if l["name"] != "Jane Q. Smith" || l["budget_range"] != "$8000" || l["company"] != "Acme Inc." || l["email"] != "jane@acme.com" ||
			l["phone"] != janePhone || l["lead_stage"] != "qualified" {
			t.Errorf("lead not merged: %v", l)
		}
		if sites, _ := l["sites"].(map[string]any); sites["name"] != "Acme Website" || sites["url"] != "https://acme.example" {
			t.Errorf("lead.sites = %v", l["sites"])
		}
		if d.CommandIDs.Sales == "" || d.CommandIDs.Copywriter == nil || *d.CommandIDs.Copywriter == d.CommandIDs.Sales {
			t.Fatalf("command_ids = %+v", d.CommandIDs)
		}

		reqs := e.llm.Requests()
		if len(reqs) != 2 || !reqs[0].HasSchema(leads.SchemaSales) || !reqs[1].HasSchema(leads.SchemaCopywriter) {
			t.Fatalf("model saw %d requests", len(reqs))
		}
		hasAll(t, reqs[0].Prompt(), "Sales/CRM Specialist", "Sam the Strategist", "Always propose a concrete next step",
			"Jane Q. Smith", "Acme Inc.", "Marketing Director", "measuring ROI", "$8000", "qualified",
			"Discussed specific product features and pricing", "content automation", "email, whatsapp, notification, web")
		hasAll(t, reqs[1].Prompt(), "Content Creator & Copywriter", "Cleo the Copywriter", "Jane Q. Smith", "Sales draft: Hi Jane")
		if got := channelsOf(reqs[0]); strings.Join(got, ",") != "email,whatsapp,notification,web" {
			t.Errorf("schema channels = %v", got)
		}

		for id, kind := range map[string]string{d.CommandIDs.Sales: leads.KindSales, *d.CommandIDs.Copywriter: leads.KindCopywriter} {
			var c parley.LeadCommand
			r := e.p.Do("GET", "/api/commands/"+id, e.key, nil)
			r.JSON(t, &c)
			if c.Kind != kind || c.Status != parley.LeadCommandCompleted || c.Mode != parley.LeadModeLLM || c.LeadID != e.leadID || c.CompletedAt == nil {
				t.Errorf("command %s = %+v", id, c)
			}
		}
		if ev := e.events(); !contains(ev, leads.EventContentWritten) {
			t.Errorf("events = %v", ev)
		}

		// snake_case names work the same.
		snake := map[string]any{"site_id": e.siteID, "lead_id": e.leadID, "agent_id": e.sales, "user_id": nil, "visitor_id": e.visitor,
			"follow_up_type": "email", "lead_stage": "proposal", "product_interest": []string{"analytics dashboard"}, "follow_up_interval": "1 week"}
		res, out = e.followUp(e.key, snake)
		if res.Status != 200 || !out.Success || out.Data.Lead["lead_stage"] != "proposal" {
			t.Fatalf("snake_case: %d %s", res.Status, res.Body)
		}
		hasAll(t, e.llm.Requests()[2].Prompt(), "analytics dashboard", "Follow-up interval: 1 week", "Follow-up type wanted: email")
	})
}

func TestFollowUpWithoutCopywriter(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, envOpts{llm: true})
		// An inactive copywriter counts as none.
		e.create("/api/site-agents", map[string]any{"site_id": e.siteID, "role": "copywriter", "name": "Off duty", "active": false})
		res, out := e.followUp(e.key, e.body(nil))
		if res.Status != 200 {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		if out.Data.CommandIDs.Copywriter != nil || out.Data.CommandIDs.Sales == "" {
			t.Fatalf("command_ids = %+v", out.Data.CommandIDs)
		}
		if !strings.Contains(string(res.Body), `"copywriter":null`) {
			t.Errorf("copywriter is not null: %s", res.Body)
		}
		if n := e.llm.Calls(); n != 1 {
			t.Fatalf("model called %d times, want phase 1 only", n)
		}
		if !strings.HasPrefix(out.Data.Messages["email"].Message, "Sales draft") {
			t.Errorf("email = %+v", out.Data.Messages["email"])
		}
	})
}

func TestPlaceholdersRegeneratedThenRejected(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, envOpts{llm: true, copywriter: true})
		e.llm.SetResponder(placeholderResponder)
		res, out := e.followUp(e.key, e.body(nil))
		if res.Status != 502 || out.Success || out.Error.Code != leads.CodeNoContentGenerated {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		reqs := e.llm.Requests()
		if len(reqs) != 2 || !reqs[1].HasSchema(leads.SchemaSales) {
			t.Fatalf("want one regeneration of phase 1, got %d requests", len(reqs))
		}
		hasAll(t, reqs[1].LastUser(), "placeholders", "{{first_name}}", "[Name]", "<company>")
		cmds := e.p.Do("GET", "/api/commands?lead_id="+e.leadID, e.key, nil).Map(t)["items"].([]any)
		if len(cmds) != 1 || cmds[0].(map[string]any)["status"] != parley.LeadCommandFailed || cmds[0].(map[string]any)["attempts"].(float64) != 2 {
			t.Fatalf("commands = %v", cmds)
		}

		// A clean second answer is accepted; the copywriter then runs.
		e.llm.SetResponder(goodResponder)
		e.llm.Enqueue(placeholderResponder(reqs[0]))
		res, out = e.followUp(e.key, e.body(nil))
		if res.Status != 200 || out.Data.CommandIDs.Copywriter == nil || e.llm.Calls() != 5 {
			t.Fatalf("%d %s after %d calls", res.Status, res.Body, e.llm.Calls())
		}

		// The copywriter's placeholders twice: the sales draft stands, and
		// the failed copywriter command is named.
		e.llm.SetResponder(func(r llmtest.Request) llmtest.Reply {
			if r.HasSchema(leads.SchemaCopywriter) {
				return placeholderResponder(r)
			}
			return goodResponder(r)
		})
		res, out = e.followUp(e.key, e.body(nil))
		if res.Status != 200 || !strings.HasPrefix(out.Data.Messages["web"].Message, "Sales draft") || out.Data.CommandIDs.Copywriter == nil {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		var c parley.LeadCommand
		e.p.Do("GET", "/api/commands/"+*out.Data.CommandIDs.Copywriter, e.key, nil).JSON(t, &c)
		if c.Status != parley.LeadCommandFailed {
			t.Fatalf("copywriter command = %+v", c)
		}
	})
}

func TestOfflineComposer(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, envOpts{copywriter: true})
		res, out := e.followUp(e.key, e.body(nil))
		if res.Status != 200 {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		if out.Data.CommandIDs.Copywriter != nil {
			t.Fatalf("offline, phase 2 has nothing to refine: %+v", out.Data.CommandIDs)
		}
		m := out.Data.Messages
		if len(m) != 4 {
			t.Fatalf("channels = %v", m)
		}
		hasAll(t, m["email"].Message, "Hi Jane,", "call on 2024-04-20", "Discussed specific product features and pricing",
			"time-consuming content creation and measuring ROI", "20 minutes", "Acme Website")
		if m["email"].Title != "Following up on content automation and analytics dashboard for Acme Inc." {
			t.Errorf("subject = %q", m["email"].Title)
		}
		for ch, c := range m {
			if ph := leads.Placeholders(c.Title + " " + c.Message); len(ph) > 0 || !strings.Contains(c.Strategy, "offline composer") {
				t.Errorf("%s: placeholders %v, strategy %q", ch, ph, c.Strategy)
			}
		}
		var c parley.LeadCommand
		e.p.Do("GET", "/api/commands/"+out.Data.CommandIDs.Sales, e.key, nil).JSON(t, &c)
		if c.Mode != parley.LeadModeOffline || c.Status != parley.LeadCommandCompleted {
			t.Fatalf("command = %+v", c)
		}
		_, again := e.followUp(e.key, e.body(nil))
		for ch := range m {
			if again.Data.Messages[ch] != m[ch] {
				t.Errorf("%s differs between two identical calls", ch)
			}
		}
	})
}

func TestFollowUpErrorCodes(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, envOpts{llm: true})
		ctx := context.Background()
		other, otherKey := e.p.Tenant("Other")
		otherSite := e.createAs(otherKey, "/api/sites", map[string]any{"name": "Other"})
		otherLead := e.createAs(otherKey, "/api/leads", map[string]any{"site_id": otherSite, "name": "Bob"})
		_ = other
		bare := e.create("/api/sites", map[string]any{"name": "No channels"})["id"].(string)
		bareLead := e.create("/api/leads", map[string]any{"site_id": bare, "name": "Nobody", "email": "n@x.example"})["id"].(string)
		e.create("/api/site-agents", map[string]any{"site_id": bare, "role": "sales", "name": "S"})
		noAgentSite := e.create("/api/sites", map[string]any{"name": "No agent", "whatsapp_channel_id": e.channel})["id"].(string)
		noAgentLead := e.create("/api/leads", map[string]any{"site_id": noAgentSite, "name": "Ann"})["id"].(string)
		unreachable := e.create("/api/leads", map[string]any{"site_id": e.siteID, "name": "No contact"})["id"].(string)
		copyOnly := e.create("/api/site-agents", map[string]any{"site_id": e.siteID, "role": "copywriter", "name": "C", "active": false})["id"].(string)
		missing := "0190f5a4-8a39-7b1c-9d2e-000000000000"

		cases := []struct {
			name   string
			key    string
			body   any
			status int
			code   string
		}{
			{"no key", "", e.body(nil), 401, leads.CodeUnauthorized},
			{"bad key", "pk_nope", e.body(nil), 401, leads.CodeUnauthorized},
			{"not json", e.key, `{"siteId":`, 400, leads.CodeInvalidRequest},
			{"siteId missing", e.key, e.body(map[string]any{"siteId": nil}), 400, leads.CodeInvalidRequest},
			{"leadId missing", e.key, e.body(map[string]any{"leadId": nil}), 400, leads.CodeInvalidRequest},
			{"siteId not uuid", e.key, e.body(map[string]any{"siteId": "site_456"}), 400, leads.CodeInvalidInput},
			{"lead_id not uuid", e.key, e.body(map[string]any{"leadId": nil, "lead_id": "lead_789"}), 400, leads.CodeInvalidInput},
			{"phone empty", e.key, e.body(map[string]any{"phone_number": ""}), 400, leads.CodeInvalidPhoneNumber},
			{"phone short", e.key, e.body(map[string]any{"phone_number": "12345"}), 400, leads.CodeInvalidPhoneNumber},
			{"site unknown", e.key, e.body(map[string]any{"siteId": missing}), 404, leads.CodeSiteNotFound},
			{"another tenant's site", e.key, e.body(map[string]any{"siteId": otherSite, "leadId": otherLead}), 404, leads.CodeSiteNotFound},
			{"lead unknown", e.key, e.body(map[string]any{"leadId": missing}), 404, leads.CodeLeadNotFound},
			{"lead of another site", e.key, e.body(map[string]any{"leadId": bareLead}), 404, leads.CodeLeadNotFound},
			{"visitor unknown", e.key, e.body(map[string]any{"visitorId": missing}), 404, leads.CodeVisitorNotFound},
			{"agent unknown", e.key, e.body(map[string]any{"agent_id": missing}), 404, leads.CodeAgentNotFound},
			{"agent not a sales agent", e.key, e.body(map[string]any{"agentId": copyOnly}), 404, leads.CodeAgentNotFound},
			{"user unknown", e.key, e.body(map[string]any{"userId": missing}), 404, leads.CodeAgentNotFound},
			{"no sales agent on site", e.key, e.body(map[string]any{"siteId": noAgentSite, "leadId": noAgentLead}), 404, leads.CodeAgentNotFound},
			{"site without channels", e.key, e.body(map[string]any{"siteId": bare, "leadId": bareLead}), 422, leads.CodeNoChannelsConfigured},
			{"lead unreachable", e.key, e.body(map[string]any{"leadId": unreachable}), 422, leads.CodeNoValidChannelsLead},
		}
		before := e.llm.Calls()
		for _, c := range cases {
			res, out := e.followUp(c.key, c.body)
			if res.Status != c.status || out.Success || out.Error == nil || out.Error.Code != c.code || out.Error.Message == "" || out.Data != nil {
				t.Errorf("%s: %d %s, want %d %s", c.name, res.Status, res.Body, c.status, c.code)
			}
		}
		if e.llm.Calls() != before {
			t.Errorf("a rejected request reached the model")
		}

		// The model refusing the request fails phase 1.
		e.llm.Enqueue(llmtest.Status(401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided."))
		res, out := e.followUp(e.key, e.body(nil))
		if res.Status != 502 || out.Error.Code != leads.CodeSalesCommandFailed {
			t.Errorf("model failure: %d %s", res.Status, res.Body)
		}

		// A broken database is a SYSTEM_ERROR that says nothing more.
		if _, err := e.p.Store.DB().ExecContext(ctx, `DROP TABLE agent_commands`); err != nil {
			t.Fatal(err)
		}
		res, out = e.followUp(e.key, e.body(nil))
		if res.Status != 500 || out.Error.Code != leads.CodeSystemError || out.Error.Message != "internal error" {
			t.Errorf("system error: %d %s", res.Status, res.Body)
		}
	})
}

// createAs creates a resource with another tenant's key and returns its id.
func (e *env) createAs(key, path string, body any) string {
	e.t.Helper()
	res := e.p.Do("POST", path, key, body)
	if res.Status != 201 {
		e.t.Fatalf("POST %s: %d %s", path, res.Status, res.Body)
	}
	return res.Map(e.t)["id"].(string)
}

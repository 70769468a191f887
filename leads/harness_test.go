package leads_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/leads"
	"github.com/parleyhq/parley/llm/llmtest"
	"github.com/parleyhq/parley/store"
)

// env is a running Parley with one tenant whose site has an SMTP sender
// (a real SMTP server on loopback), a WhatsApp channel, a Sales/CRM
// Specialist persona and, unless asked otherwise, a copywriter; and a lead
// (Jane Smith of Acme Inc.) with a visitor.
type env struct {
	t       *testing.T
	p       *apptest.Parley
	clk     *clock.Fake
	llm     *llmtest.Server // nil: offline mode
	smtp    *smtpServer
	tenant  parley.Tenant
	key     string
	site    map[string]any
	siteID  string
	leadID  string
	visitor string
	sales   string
	copy    string
	channel string
	graph   *whatsapptest.FakeGraph // nil unless envOpts.graph
}

type envOpts struct {
	llm        bool
	copywriter bool
	// graph points the WhatsApp sender at a fake Graph API, so a test can
	// read what reached it.
	graph bool
	// guarded leaves PARLEY_OUTBOUND_ALLOW empty, so the site's SMTP server
	// on loopback is refused as a tenant's private address would be.
	guarded bool
}

// channelDisplay is the site's WhatsApp number: a Brazilian line, so a
// national number written by a lead is read as Brazilian.
const channelDisplay = "+55 11 3003-0000"

const janePhone = "+5511987654321"

func newEnv(t *testing.T, engine store.Engine, o envOpts) *env {
	t.Helper()
	e := &env{t: t, clk: clock.NewFake(time.Now().UTC().Truncate(time.Second)), smtp: startSMTP(t)}
	if o.llm {
		e.llm = llmtest.Start(llmtest.Options{APIKey: "llm-key", Responder: goodResponder})
		t.Cleanup(e.llm.Close)
	}
	if o.graph {
		e.graph = whatsapptest.NewFakeGraph()
		t.Cleanup(e.graph.Close)
	}
	e.p = apptest.Start(t, engine, e.clk, func(c *config.Config) {
		// The tests poll the API while River's scheduler ticks (up to 5 s
		// of real time), and the rate limiter's buckets refill by the fake
		// clock, which stands still: the limit would end the wait, not the step.
		c.APIRateLimit = 0
		if e.graph != nil {
			c.WhatsAppGraphURL, c.WhatsAppAppSecret = e.graph.URL, "app-secret"
		}
		if !o.guarded { // PARLEY_OUTBOUND_ALLOW=127.0.0.0/8: the SMTP server is on loopback
			c.OutboundAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		}
		if e.llm != nil {
			c.LLMBaseURL, c.LLMAPIKey, c.LLMModel = e.llm.URL, "llm-key", "fake-model"
		}
	})
	e.tenant, e.key = e.p.Tenant("Acme")
	ctx := context.Background()
	pnID := "1" + strconv.FormatInt(time.Now().UnixNano()%1e12, 10)
	if e.graph != nil {
		e.graph.AddNumber(whatsapptest.Number{ID: pnID, Token: "wa-token", Display: channelDisplay})
	}
	ch, err := e.p.Store.CreateChannel(ctx, parley.Channel{TenantID: e.tenant.ID, Type: parley.ChannelWhatsApp, Name: "Sales line",
		PhoneNumberID: pnID, DisplayNumber: channelDisplay, AccessToken: "wa-token", Active: true})
	if err != nil {
		t.Fatal(err)
	}
	e.channel = ch.ID
	host, port, _ := net.SplitHostPort(e.smtp.Addr)
	portN, _ := strconv.Atoi(port)
	e.site = e.create("/api/sites", map[string]any{
		"name": "Acme Website", "url": "https://acme.example",
		"email": map[string]any{"host": host, "port": portN, "username": e.smtp.User, "password": e.smtp.Password,
			"from_address": "sales@acme.example", "from_name": "Acme Sales", "tls": "none"},
		"whatsapp_channel_id": ch.ID,
		"whatsapp_template":   map[string]any{"name": "lead_follow_up", "language": "en"},
	})
	e.siteID = e.site["id"].(string)
	lead := e.create("/api/leads", map[string]any{"site_id": e.siteID, "name": "Jane Smith", "company": "Acme Inc.", "position": "Marketing Director",
		"email": "jane@acme.com", "phone": janePhone, "pain_points": []string{"time-consuming content creation", "measuring ROI"},
		"budget_range": "$5000-$10000", "lead_stage": "qualified"})
	e.leadID = lead["id"].(string)
	e.visitor = e.create("/api/visitors", map[string]any{"site_id": e.siteID, "lead_id": e.leadID, "name": "Jane"})["id"].(string)
	e.sales = e.create("/api/site-agents", map[string]any{"site_id": e.siteID, "role": "sales", "name": "Sam the Strategist",
		"instructions": "Always propose a concrete next step."})["id"].(string)
	if o.copywriter {
		e.copy = e.create("/api/site-agents", map[string]any{"site_id": e.siteID, "role": "copywriter", "name": "Cleo the Copywriter",
			"instructions": "Warm, concise, no jargon."})["id"].(string)
	}
	return e
}

// create POSTs a resource and returns it, failing the test unless 201.
func (e *env) create(path string, body any) map[string]any {
	e.t.Helper()
	res := e.p.Do("POST", path, e.key, body)
	if res.Status != 201 {
		e.t.Fatalf("POST %s: %d %s", path, res.Status, res.Body)
	}
	return res.Map(e.t)
}

// followUp calls the endpoint and decodes the envelope.
func (e *env) followUp(key string, body any) (apptest.Response, envelope) {
	e.t.Helper()
	res := e.p.Do("POST", leads.FollowUpPath, key, body)
	var env envelope
	if err := json.Unmarshal(res.Body, &env); err != nil {
		e.t.Fatalf("answer is not JSON: %d %s", res.Status, res.Body)
	}
	return res, env
}

type envelope struct {
	Success bool `json:"success"`
	Data    *struct {
		Messages   map[string]parley.LeadContent `json:"messages"`
		Lead       map[string]any                `json:"lead"`
		CommandIDs struct {
			Sales      string  `json:"sales"`
			Copywriter *string `json:"copywriter"`
		} `json:"command_ids"`
		Sequence *parley.Sequence `json:"sequence"`
		Channels []struct {
			Channel     string `json:"channel"`
			Written     bool   `json:"written"`
			Deliverable bool   `json:"deliverable"`
			To          string `json:"to"`
			Reason      string `json:"reason"`
		} `json:"channels"`
		Schedule *struct {
			Requested string `json:"requested"`
			Interval  string `json:"interval"`
			IntervalS int64  `json:"interval_seconds"`
			Note      string `json:"note"`
		} `json:"follow_up_schedule"`
	} `json:"data"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// body is the seed's example request, pointed at this env's ids.
func (e *env) body(extra map[string]any) map[string]any {
	b := map[string]any{
		"siteId": e.siteID, "leadId": e.leadID, "followUpType": "call", "leadStage": "qualified",
		"previousInteractions": []map[string]string{
			{"date": "2024-04-15", "type": "email", "summary": "Initial contact with product information"},
			{"date": "2024-04-20", "type": "call", "summary": "Discussed specific product features and pricing"},
		},
		"productInterest":  []string{"content automation", "analytics dashboard"},
		"followUpInterval": "2 days",
	}
	for k, v := range extra {
		if v == nil {
			delete(b, k)
			continue
		}
		b[k] = v
	}
	return b
}

// channelsOf reads the channel names a phase's schema asks for.
func channelsOf(req llmtest.Request) []string {
	var s struct {
		Properties struct {
			Messages struct {
				Required []string `json:"required"`
			} `json:"messages"`
		} `json:"properties"`
	}
	if req.ResponseFormat != nil && req.ResponseFormat.JSONSchema != nil {
		_ = json.Unmarshal(req.ResponseFormat.JSONSchema.Schema, &s)
	}
	return s.Properties.Messages.Required
}

// reply builds a phase's answer for the channels the request asks for.
func reply(req llmtest.Request, text func(ch string) (title, message string)) llmtest.Reply {
	msgs := map[string]any{}
	for _, ch := range channelsOf(req) {
		title, message := text(ch)
		c := map[string]any{"title": title, "message": message}
		if req.HasSchema(leads.SchemaSales) {
			c["strategy"] = "consultative: tie " + ch + " to ROI"
		}
		msgs[ch] = c
	}
	return llmtest.JSON(map[string]any{"messages": msgs})
}

// goodResponder writes ready-to-send content; the copywriter's says so.
func goodResponder(req llmtest.Request) llmtest.Reply {
	who := "Sales draft"
	if req.HasSchema(leads.SchemaCopywriter) {
		who = "Polished"
	}
	return reply(req, func(ch string) (string, string) {
		return fmt.Sprintf("%s %s for Jane", who, ch), fmt.Sprintf("%s: Hi Jane, following up on content automation at Acme Inc. (%s).", who, ch)
	})
}

// placeholderResponder leaves template variables in every answer.
func placeholderResponder(req llmtest.Request) llmtest.Reply {
	return reply(req, func(ch string) (string, string) {
		return "Hello {{first_name}}", "Dear [Name], a note for <company>."
	})
}

// runDueSteps plays River's scheduler tick for the follow-up steps whose
// time the fake clock has passed: JobRetry makes a scheduled job available
// at once (River's own scheduler would do the same within 5 seconds of
// real time; one test waits for it instead).
func (e *env) runDueSteps() {
	e.t.Helper()
	ctx := context.Background()
	res, err := e.p.Jobs.JobList(ctx, river.NewJobListParams().Kinds(leads.StepArgs{}.Kind()).States(rivertype.JobStateScheduled).First(100))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, j := range res.Jobs {
		if !j.ScheduledAt.After(e.clk.Now()) {
			if _, err := e.p.Jobs.JobRetry(ctx, j.ID); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

// sequence reads the lead's latest sequence through the API.
func (e *env) sequence() parley.Sequence {
	e.t.Helper()
	res := e.p.Do("GET", "/api/leads/"+e.leadID+"/sequence", e.key, nil)
	if res.Status != 200 {
		e.t.Fatalf("GET sequence: %d %s", res.Status, res.Body)
	}
	var s parley.Sequence
	res.JSON(e.t, &s)
	return s
}

func (e *env) waitStep(pos int, status string) parley.Sequence {
	e.t.Helper()
	var s parley.Sequence
	apptest.Eventually(e.t, fmt.Sprintf("step %d %s", pos, status), func() bool {
		s = e.sequence()
		return len(s.Steps) > pos && s.Steps[pos].Status == status
	})
	return s
}

// events lists the names in the lead's event log.
func (e *env) events() []string {
	e.t.Helper()
	res := e.p.Do("GET", "/api/leads/"+e.leadID+"/events?limit=200", e.key, nil)
	var page struct {
		Items []parley.LeadEvent `json:"items"`
	}
	res.JSON(e.t, &page)
	names := make([]string, len(page.Items))
	for i, ev := range page.Items {
		names[i] = ev.Name
	}
	return names
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func hasAll(t *testing.T, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("missing %q in:\n%s", w, text)
		}
	}
}

package followup_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/twilio/twiliotest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/llm/llmtest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// Tests of the original design's follow-up contract, asserted on the bytes that
// reach the fake Graph API, the fake Twilio API and the fake model.

const (
	twAccount = "AC" + "0123456789abcdef0123456789abcdef"
	twToken   = "tw-auth-token"
	twNumber  = "+15550001234"
	appSecret = "app-secret"
)

var pnSeq atomic.Int64

// wired is an env whose WhatsApp channel is served by a fake Graph API,
// with a second channel on a fake Twilio API and, when asked, a fake model.
type wired struct {
	*env
	graph *whatsapptest.FakeGraph
	tw    *twiliotest.Server
	model *llmtest.Server // nil: no LLM configured
	twCh  parley.Channel
}

func newWired(t *testing.T, engine store.Engine, responder llmtest.Responder) *wired {
	t.Helper()
	graph := whatsapptest.NewFakeGraph()
	t.Cleanup(graph.Close)
	tw := twiliotest.New()
	t.Cleanup(tw.Close)
	tw.AddAccount(twAccount, twToken)
	var model *llmtest.Server
	if responder != nil {
		model = llmtest.Start(llmtest.Options{APIKey: "llm-key", Responder: responder})
		t.Cleanup(model.Close)
	}
	e := newEnv(t, engine, func(c *config.Config) {
		c.WhatsAppGraphURL, c.TwilioBaseURL, c.WhatsAppAppSecret = graph.URL, tw.URL, appSecret
		if model != nil {
			c.LLMBaseURL, c.LLMAPIKey, c.LLMModel = model.URL, "llm-key", "fake-model"
		}
	})
	ctx := context.Background()
	pn := strconv.FormatInt(time.Now().UnixNano()%1e12+pnSeq.Add(1), 10)
	graph.AddNumber(whatsapptest.Number{ID: pn, Token: "wa-token", Display: "+1 555-000-1111"})
	wa, err := e.p.Store.CreateChannel(ctx, parley.Channel{TenantID: e.tenant.ID, Type: parley.ChannelWhatsApp, Name: "Graph",
		PhoneNumberID: pn, AccessToken: "wa-token", Active: true,
		// As if its ownership check had passed: webhooks go to verified channels only.
		Settings: map[string]string{parley.SettingCheck: parley.CheckOK}})
	if err != nil {
		t.Fatal(err)
	}
	e.channel = wa
	twCh, err := e.p.Store.CreateChannel(ctx, parley.Channel{TenantID: e.tenant.ID, Type: parley.ChannelTwilio, Name: "Twilio",
		DisplayNumber: twNumber, Active: true, Settings: map[string]string{"account_sid": twAccount, "auth_token": twToken}})
	if err != nil {
		t.Fatal(err)
	}
	return &wired{env: e, graph: graph, tw: tw, model: model, twCh: twCh}
}

// on returns the env writing on channel ch.
func (w *wired) on(ch parley.Channel) *env {
	e := *w.env
	e.channel = ch
	return &e
}

// webhook posts a signed Cloud API webhook body to Parley.
func (w *wired) webhook(body []byte) {
	w.t.Helper()
	whatsapptest.MustPost(w.t, w.p.URL(), appSecret, body)
}

// twilioWebhook posts a signed Twilio inbound form to the Twilio channel.
func (w *wired) twilioWebhook(form url.Values) {
	w.t.Helper()
	u := w.p.URL() + "/webhooks/twilio/" + w.twCh.ID
	req, err := twiliotest.NewWebhookRequest(context.Background(), twToken, u, form)
	if err != nil {
		w.t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		w.t.Fatalf("twilio webhook = %d", res.StatusCode)
	}
}

// graphWire is the part of a Cloud API send body these tests read.
type graphWire struct {
	Type string `json:"type"`
	To   string `json:"to"`
	Text *struct {
		Body string `json:"body"`
	} `json:"text"`
	Interactive *struct {
		Type string `json:"type"`
		Body struct {
			Text string `json:"text"`
		} `json:"body"`
		Action struct {
			Button  string `json:"button"`
			Buttons []struct {
				Type  string `json:"type"`
				Reply struct {
					ID    string `json:"id"`
					Title string `json:"title"`
				} `json:"reply"`
			} `json:"buttons"`
			Sections []struct {
				Title string `json:"title"`
				Rows  []struct {
					ID    string `json:"id"`
					Title string `json:"title"`
				} `json:"rows"`
			} `json:"sections"`
		} `json:"action"`
	} `json:"interactive"`
}

// graphSends waits for n sends to phone at the fake Graph API and decodes
// them from the bytes received.
func (w *wired) graphSends(phone string, n int) []graphWire {
	w.t.Helper()
	var out []graphWire
	waitFor(w.t, fmt.Sprintf("%d sends to %s at the Graph API", n, phone), func() bool {
		out = nil
		for _, s := range w.graph.Sent() {
			if strings.TrimPrefix(s.To, "+") != strings.TrimPrefix(phone, "+") {
				continue
			}
			var g graphWire
			if err := json.Unmarshal(s.Body, &g); err != nil {
				w.t.Fatalf("send body %s: %v", s.Body, err)
			}
			out = append(out, g)
		}
		return len(out) >= n
	})
	return out
}

// twilioSends waits for n messages to phone at the fake Twilio API.
func (w *wired) twilioSends(phone string, n int) []twiliotest.Message {
	w.t.Helper()
	var out []twiliotest.Message
	waitFor(w.t, fmt.Sprintf("%d messages to %s at Twilio", n, phone), func() bool {
		out = nil
		for _, m := range w.tw.Messages() {
			if m.To == "whatsapp:"+phone {
				out = append(out, m)
			}
		}
		return len(out) >= n
	})
	return out
}

// answered returns the conversation's one Survey Answered event.
func answered(t *testing.T, e *env, conv parley.Conversation) map[string]any {
	t.Helper()
	ev := e.events(conv, followup.EventSurveyAnswered)
	if len(ev) != 1 {
		t.Fatalf("survey answered events = %+v, want 1", ev)
	}
	return ev[0].Payload
}

// silentFor opens a conversation on e's channel, has the agent answer and
// lets the delay pass, then asks for the follow-up.
func silentFor(e *env, phone string, delay time.Duration) parley.Conversation {
	e.t.Helper()
	conv := e.customerWrites(phone, "Thanks, that solved it")
	e.agentWrites(conv, "Glad to help!")
	e.clk.Advance(delay)
	e.request(conv)
	return conv
}

func (e *env) deactivate(ruleID string) {
	e.t.Helper()
	if r := e.p.Do("PATCH", "/api/followup-rules/"+ruleID, e.key, map[string]any{"active": false}); r.Status != http.StatusOK {
		e.t.Fatalf("deactivate = %d %s", r.Status, r.Body)
	}
}

func TestSurveysReachWhatsAppAsButtonsAndAListAndTheTapIsRecorded(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		w := newWired(t, engine, nil)
		e := w.env

		// yes_no: two reply buttons; the tap comes back as a button_reply.
		rule := e.rule(map[string]any{"title": "Check", "message": "Did that answer your question?", "delay": "30m", "survey": "yes_no"})
		conv := silentFor(e, "+5511988880001", 30*time.Minute)
		g := w.graphSends("+5511988880001", 2)[1]
		if g.Type != "interactive" || g.Interactive == nil || g.Interactive.Type != "button" || g.Interactive.Body.Text != "Did that answer your question?" {
			t.Fatalf("yes_no send = %+v", g)
		}
		btns := g.Interactive.Action.Buttons
		if len(btns) != 2 || btns[0].Type != "reply" || btns[0].Reply.Title != "Yes" || btns[1].Reply.Title != "No" {
			t.Fatalf("yes_no buttons = %+v", btns)
		}
		e.clk.Advance(time.Minute)
		// The tap arrives as Meta posts it: a signed button_reply webhook.
		w.webhook(whatsapptest.ButtonReplyWebhook(whatsapptest.Inbound{PhoneNumberID: e.channel.PhoneNumberID, From: "5511988880001",
			Name: "Ana", Time: e.clk.Now()}, btns[1].Reply.ID, btns[1].Reply.Title))
		waitFor(t, "the tap's survey answer", func() bool { return len(e.events(conv, followup.EventSurveyAnswered)) == 1 })
		if a := answered(t, e, conv); a["answer"] != "no" || a["score"] != 0.0 || a["survey"] != "yes_no" {
			t.Fatalf("yes_no answer = %+v", a)
		}
		e.deactivate(rule)

		// csat: a list of five rows, 1 to 5, opened by a button.
		rule = e.rule(map[string]any{"title": "CSAT", "message": "How did we do?", "delay": "30m", "survey": "csat"})
		conv = silentFor(e, "+5511988880002", 30*time.Minute)
		g = w.graphSends("+5511988880002", 2)[1]
		if g.Type != "interactive" || g.Interactive == nil || g.Interactive.Type != "list" || g.Interactive.Body.Text != "How did we do?" || g.Interactive.Action.Button == "" {
			t.Fatalf("csat send = %+v", g)
		}
		secs := g.Interactive.Action.Sections
		if len(secs) != 1 || len(secs[0].Rows) != 5 {
			t.Fatalf("csat sections = %+v", secs)
		}
		var titles []string
		for _, r := range secs[0].Rows {
			titles = append(titles, r.Title)
		}
		if got := strings.Join(titles, "|"); got != "Very poor|Poor|Okay|Good|Excellent" {
			t.Fatalf("csat rows = %s", got)
		}
		e.clk.Advance(time.Minute)
		e.inbound("+5511988880002", parley.Message{Type: parley.MessageInteractive, Content: "Good",
			Extra: map[string]any{"interactive_type": "list_reply", "interactive_id": secs[0].Rows[3].ID}})
		if a := answered(t, e, conv); a["answer"] != "4" || a["score"] != 4.0 || a["survey"] != "csat" {
			t.Fatalf("csat answer = %+v", a)
		}
		e.deactivate(rule)

		// nps: eleven answers exceed a list's ten rows; the question asks
		// for a typed number.
		e.rule(map[string]any{"title": "NPS", "message": "One last question.", "delay": "30m", "survey": "nps"})
		conv = silentFor(e, "+5511988880003", 30*time.Minute)
		g = w.graphSends("+5511988880003", 2)[1]
		if g.Type != "text" || g.Text == nil || !strings.HasPrefix(g.Text.Body, "One last question.") || !strings.Contains(g.Text.Body, "from 0 (not at all) to 10 (extremely)") {
			t.Fatalf("nps send = %+v", g)
		}
		e.clk.Advance(time.Minute)
		e.customerWrites("+5511988880003", "9")
		if a := answered(t, e, conv); a["answer"] != "9" || a["score"] != 9.0 {
			t.Fatalf("nps answer = %+v", a)
		}
	})
}

// Twilio sends reply buttons and lists only as pre-approved Content
// templates: a survey goes as text with numbered choices, and the number
// (or the choice) typed back is the answer.
func TestSurveysReachTwilioAsNumberedChoicesAndTheTypedAnswerIsRecorded(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		w := newWired(t, engine, nil)
		e := w.on(w.twCh)

		rule := e.rule(map[string]any{"title": "Check", "message": "Did that answer your question?", "delay": "30m", "survey": "yes_no"})
		conv := silentFor(e, "+5511977770001", 30*time.Minute)
		if got := w.twilioSends("+5511977770001", 2)[1]; got.Body != "Did that answer your question?\n1. Yes\n2. No" || got.ContentSID != "" {
			t.Fatalf("yes_no at Twilio: %q (content sid %q)", got.Body, got.ContentSID)
		}
		e.clk.Advance(time.Minute)
		// The typed "1" arrives as Twilio posts it: a signed form.
		w.twilioWebhook(twiliotest.InboundText(twAccount, "+5511977770001", twNumber, "Ana", "1"))
		waitFor(t, "the typed survey answer", func() bool { return len(e.events(conv, followup.EventSurveyAnswered)) == 1 })
		if a := answered(t, e, conv); a["answer"] != "yes" || a["score"] != 1.0 {
			t.Fatalf("yes_no answer = %+v", a)
		}
		e.deactivate(rule)

		rule = e.rule(map[string]any{"title": "CSAT", "message": "How did we do?", "delay": "30m", "survey": "csat"})
		conv = silentFor(e, "+5511977770002", 30*time.Minute)
		if got := w.twilioSends("+5511977770002", 2)[1]; got.Body != "How did we do?\n1. Very poor\n2. Poor\n3. Okay\n4. Good\n5. Excellent" {
			t.Fatalf("csat at Twilio: %q", got.Body)
		}
		e.clk.Advance(time.Minute)
		e.customerWrites("+5511977770002", "4")
		if a := answered(t, e, conv); a["answer"] != "4" || a["score"] != 4.0 {
			t.Fatalf("csat answer = %+v", a)
		}
		e.deactivate(rule)

		e.rule(map[string]any{"title": "NPS", "message": "One last question.", "delay": "30m", "survey": "nps"})
		conv = silentFor(e, "+5511977770003", 30*time.Minute)
		if got := w.twilioSends("+5511977770003", 2)[1]; !strings.HasPrefix(got.Body, "One last question.") || !strings.Contains(got.Body, "from 0 (not at all) to 10 (extremely)") {
			t.Fatalf("nps at Twilio: %q", got.Body)
		}
		e.clk.Advance(time.Minute)
		e.customerWrites("+5511977770003", "10")
		if a := answered(t, e, conv); a["answer"] != "10" || a["score"] != 10.0 {
			t.Fatalf("nps answer = %+v", a)
		}
	})
}

// Seed 000: follow-ups only for tenants with the APPOINTMENTS module, and
// only for customers with no appointment on record (past ones too).
func TestSeedBusinessRulesModuleAndAnyAppointment(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		w := newWired(t, engine, nil)
		e := w.env
		ctx := context.Background()
		ruleID := e.rule(map[string]any{"title": "Nudge", "message": "Still there?", "delay": "30m"})

		e.patchTenant(map[string]any{"modules": []string{}})
		conv := silentFor(e, "+5511966660001", 30*time.Minute)
		if ev := e.events(conv, followup.EventSkipped); len(ev) != 1 || ev[0].Payload["reason"] != followup.ReasonNoAppointmentsModule {
			t.Fatalf("without the module: skipped = %+v", ev)
		}
		e.patchTenant(map[string]any{"modules": []string{parley.ModuleAppointments}})

		// A customer whose only appointment is in the past.
		c, err := e.p.Store.CreateCustomer(ctx, parley.Customer{TenantID: e.tenant.ID, Phone: "+5511966660002", Name: "Bia"})
		if err != nil {
			t.Fatal(err)
		}
		if r := e.p.Do("POST", "/api/appointments", e.key, map[string]any{"customer_id": c.ID, "starts_at": e.clk.Now().Add(-72 * time.Hour)}); r.Status != 201 {
			t.Fatalf("create appointment = %d %s", r.Status, r.Body)
		}
		past := silentFor(e, "+5511966660002", 30*time.Minute)
		if ev := e.events(past, followup.EventSkipped); len(ev) != 1 || ev[0].Payload["reason"] != followup.ReasonAppointment {
			t.Fatalf("with a past appointment: skipped = %+v", ev)
		}

		// A customer with no appointment gets it.
		silentFor(e, "+5511966660003", 30*time.Minute)
		if g := w.graphSends("+5511966660003", 2)[1]; g.Text == nil || g.Text.Body != "Still there?" {
			t.Fatalf("follow-up = %+v", g)
		}
		for _, phone := range []string{"+5511966660001", "+5511966660002"} {
			if n := len(w.graphSends(phone, 1)); n != 1 {
				t.Errorf("%s got %d messages at the Graph API, want only the agent's", phone, n)
			}
		}
		st := e.stats(ruleID)
		skipped, _ := st["skipped"].(map[string]any)
		if skipped[followup.ReasonNoAppointmentsModule] != 1.0 || skipped[followup.ReasonAppointment] != 1.0 || st["sent"] != 1.0 {
			t.Fatalf("stats = %v", st)
		}
	})
}

// Seed 000's payload is a Zod object: unknown keys are stripped, not
// refused. The conversation id is read in the forms the API issues it.
func TestRequestPayloadAcceptsExtraKeysAndTheAPIsIDForms(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		w := newWired(t, engine, nil)
		e := w.env
		e.rule(map[string]any{"title": "Nudge", "message": "Still there?", "delay": "30m"})
		run := func(phone string, body func(id string) string, want rivertype.JobState) parley.Conversation {
			conv := e.customerWrites(phone, "Hello")
			e.agentWrites(conv, "Hi! How can I help?")
			e.clk.Advance(30 * time.Minute)
			res, err := e.p.Jobs.Insert(context.Background(), rawRequest{body(conv.ID)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			waitJob(t, e.p, res.Job.ID, want)
			if j, _ := e.p.Jobs.JobGet(context.Background(), res.Job.ID); j.Attempt != 1 {
				t.Errorf("%s: %d attempts, want 1", body(conv.ID), j.Attempt)
			}
			return conv
		}
		run("+5511955550001", func(id string) string {
			return `{"id": "` + id + `", "source": "cron", "attempt": 2, "meta": {"x": [1]}}`
		}, rivertype.JobStateCompleted)
		if g := w.graphSends("+5511955550001", 2)[1]; g.Text == nil || g.Text.Body != "Still there?" {
			t.Fatalf("follow-up for a payload with extra keys = %+v", g)
		}
		run("+5511955550002", func(id string) string { return `{"id": "` + strings.ToUpper(id) + `"}` }, rivertype.JobStateCompleted)
		if g := w.graphSends("+5511955550002", 2)[1]; g.Text == nil || g.Text.Body != "Still there?" {
			t.Fatalf("follow-up for an upper-case id = %+v", g)
		}
		for _, body := range []string{`{"id": "conversation-123"}`, `{"id": 42}`, `{}`, `[]`, `{"id": "{0192f0e0-0000-7000-8000-000000000000}"}`, `{"id": " 0192f0e0-0000-7000-8000-000000000000"}`, `{"id": null}`} {
			res, err := e.p.Jobs.Insert(context.Background(), rawRequest{body}, nil)
			if err != nil {
				t.Fatal(err)
			}
			waitJob(t, e.p, res.Job.ID, rivertype.JobStateCancelled)
			if !strings.Contains(e.p.Logs.String(), "malformed Follow-Up Request payload") {
				t.Fatalf("%s: no logged reason in\n%s", body, e.p.Logs.String())
			}
		}
	})
}

// Seed 000: "AI chatbot generates follow-up message" — by default, with a
// model configured, from the rule's message, the customer and the history.
func TestTheAIWritesTheFollowUpUnlessTheRuleSendsItAsWritten(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		const written = "Hi Ana! Did the blue sneakers fit well? 👟"
		w := newWired(t, engine, func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Content: written} })
		e := w.env
		if r := e.p.Do("POST", "/api/customers", e.key, map[string]any{"phone": "+5511944440001", "name": "Ana Lima"}); r.Status != 201 {
			t.Fatalf("customer = %d %s", r.Status, r.Body)
		}
		rule := e.rule(map[string]any{"title": "Fit check", "message": "Ask whether the sneakers fit", "delay": "30m"})
		conv := e.customerWrites("+5511944440001", "I bought the blue sneakers yesterday")
		e.agentWrites(conv, "Great choice, enjoy them!")
		e.clk.Advance(30 * time.Minute)
		e.request(conv)
		if g := w.graphSends("+5511944440001", 2)[1]; g.Text == nil || g.Text.Body != written {
			t.Fatalf("follow-up at the Graph API = %+v, want the model's text", g)
		}
		// The Follow-Up Request scheduled with the agent's message comes due
		// at the same moment as the one asked for here: both may draft (one
		// follow-up is sent, checked below), and each draft reads the history.
		reqs := w.model.Requests()
		if len(reqs) == 0 || len(reqs) > 2 {
			t.Fatalf("model calls = %d, want 1 (2 when the two requests raced)", len(reqs))
		}
		for _, req := range reqs {
			var prompt strings.Builder
			for _, m := range req.Messages {
				prompt.WriteString(m.Role + ": " + m.Content + "\n")
			}
			for _, want := range []string{"Ask whether the sneakers fit", "Ana Lima", "user: I bought the blue sneakers yesterday", "assistant: Great choice, enjoy them!"} {
				if !strings.Contains(prompt.String(), want) {
					t.Errorf("prompt lacks %q:\n%s", want, prompt.String())
				}
			}
		}
		drafted := len(reqs)
		if sent := e.events(conv, followup.EventSent); len(sent) != 1 || sent[0].Payload["kind"] != "generated" {
			t.Fatalf("sent events = %+v", sent)
		}
		e.deactivate(rule)

		// Opting out: the rule's text goes as written, the model is not asked.
		r := e.p.Do("POST", "/api/followup-rules", e.key, map[string]any{"title": "Verbatim", "message": "Still there?", "delay": "30m",
			"send_as_written": true, "channel_ids": []string{e.channel.ID}})
		if r.Status != http.StatusCreated || r.Map(t)["send_as_written"] != true {
			t.Fatalf("create = %d %s", r.Status, r.Body)
		}
		silentFor(e, "+5511944440002", 30*time.Minute)
		if g := w.graphSends("+5511944440002", 2)[1]; g.Text == nil || g.Text.Body != "Still there?" {
			t.Fatalf("as written at the Graph API = %+v", g)
		}
		if n := w.model.Calls(); n != drafted {
			t.Fatalf("model calls = %d after a rule sent as written, want still %d", n, drafted)
		}
		e.deactivate(r.Map(t)["id"].(string))

		// A survey written by the AI keeps its buttons under the AI's text.
		e.rule(map[string]any{"title": "Check", "message": "Ask whether that answered the question", "delay": "30m", "survey": "yes_no"})
		silentFor(e, "+5511944440003", 30*time.Minute)
		g := w.graphSends("+5511944440003", 2)[1]
		if g.Interactive == nil || g.Interactive.Type != "button" || g.Interactive.Body.Text != written || len(g.Interactive.Action.Buttons) != 2 {
			t.Fatalf("AI-written survey at the Graph API = %+v", g)
		}
	})
}

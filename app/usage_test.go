package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/llm/llmtest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

const betaNumberID = "106000000000456"

// usageReport is GET /api/usage.
type usageReport struct {
	TenantID  string `json:"tenant_id"`
	ThisMonth struct {
		Month            string `json:"month"`
		PromptTokens     int64  `json:"prompt_tokens"`
		CompletionTokens int64  `json:"completion_tokens"`
		Tokens           int64  `json:"tokens"`
		LLMRequests      int64  `json:"llm_requests"`
		TemplateSends    int64  `json:"template_sends"`
	} `json:"this_month"`
	LastMonth struct {
		Month  string `json:"month"`
		Tokens int64  `json:"tokens"`
	} `json:"last_month"`
	Budget struct {
		LLMTokens     int64 `json:"llm_tokens"`
		TemplateSends int64 `json:"template_sends"`
	} `json:"budget"`
	LLMBudgetReached      bool `json:"llm_budget_reached"`
	TemplateBudgetReached bool `json:"template_budget_reached"`
}

func (w *world) usage(t *testing.T, key string) usageReport {
	t.Helper()
	var u usageReport
	r := w.Do("GET", "/api/usage", key, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /api/usage = %d %s", r.Status, r.Body)
	}
	r.JSON(t, &u)
	return u
}

// verified waits until the key's tenant's channels passed their ownership
// check: a message that races the check is held until a periodic release
// (channel/hold.go), longer than these tests wait.
func (w *world) verified(t *testing.T, key string) {
	t.Helper()
	apptest.Eventually(t, "the channel's ownership check", func() bool {
		var chs struct {
			Items []struct {
				Settings map[string]string `json:"settings"`
			}
		}
		w.Do("GET", "/api/channels", key, nil).JSON(t, &chs)
		for _, c := range chs.Items {
			if c.Settings["check"] != "ok" {
				return false
			}
		}
		return len(chs.Items) > 0
	})
}

// signed posts a signed text webhook to Parley, as Meta would.
func (w *world) signed(t *testing.T, phoneNumberID, from, name, wamid, text string) {
	t.Helper()
	body := whatsapptest.TextWebhook(whatsapptest.Inbound{PhoneNumberID: phoneNumberID, From: from, Name: name, ID: wamid, Time: time.Now()}, text)
	whatsapptest.MustPost(t, w.URL(), secret, body)
}

// Two tenants share the operator's LLM key: each is charged exactly the
// tokens the server reported for its own requests, in GET /api/usage and
// in the Prometheus counters.
func TestLLMTokensChargedPerTenant(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		responder := func(r llmtest.Request) llmtest.Reply {
			if strings.Contains(r.LastUser(), "alpha") {
				return answer("Alpha here: we open at nine.", false)
			}
			return answer("Beta here: our shop opens at ten in the morning, every weekday.", false)
		}
		w := newWorld(t, string(e), responder)
		w.graph.AddNumber(whatsapptest.Number{ID: betaNumberID, Token: "beta-token", Display: "+1 555-000-0456", VerifiedName: "Beta"})
		_, betaKey := w.Tenant("Beta")
		for _, call := range []struct {
			path string
			body map[string]any
		}{
			{"/api/channels", map[string]any{"type": "whatsapp", "name": "Main", "phone_number_id": betaNumberID, "access_token": "beta-token"}},
			{"/api/customers", map[string]any{"phone": "+5521988880000", "name": "Bruno", "language": "pt"}},
		} {
			if r := w.Do("POST", call.path, betaKey, call.body); r.Status != 201 {
				t.Fatalf("POST %s = %d %s", call.path, r.Status, r.Body)
			}
		}
		w.verified(t, w.key)
		w.verified(t, betaKey)
		acme, beta := w.usage(t, w.key), w.usage(t, betaKey)
		if acme.ThisMonth.Tokens != 0 || beta.ThisMonth.Tokens != 0 || acme.LLMBudgetReached {
			t.Fatalf("usage before any message: %+v %+v", acme, beta)
		}

		w.signed(t, numberID, "5511999990000", "Ana Lima", "wamid.U.1", "alpha: when do you open?")
		w.waitSent(t, 1)
		w.signed(t, betaNumberID, "5521988880000", "Bruno", "wamid.U.2", "beta: and you, when do you open on a weekday?")
		w.waitSent(t, 2)
		w.signed(t, numberID, "5511999990000", "Ana Lima", "wamid.U.3", "alpha again: and on Sunday?")
		w.waitSent(t, 3)

		// What the fake reported: prompt len/4+1, completion len/4+1 (llmtest).
		want := map[bool][3]int64{} // alpha? → prompt, completion, requests
		for _, r := range w.model.Requests() {
			alpha := strings.Contains(r.Prompt(), "alpha")
			got := want[alpha]
			got[0] += int64(len(r.Prompt())/4 + 1)
			got[1] += int64(len(responder(r).Content)/4 + 1)
			got[2]++
			want[alpha] = got
		}
		if want[true][2] != 2 || want[false][2] != 1 {
			t.Fatalf("the model got %d alpha and %d beta requests, want 2 and 1", want[true][2], want[false][2])
		}
		for _, c := range []struct {
			name string
			got  usageReport
			want [3]int64
		}{{"Acme", w.usage(t, w.key), want[true]}, {"Beta", w.usage(t, betaKey), want[false]}} {
			m := c.got.ThisMonth
			if m.PromptTokens != c.want[0] || m.CompletionTokens != c.want[1] || m.LLMRequests != c.want[2] || m.Tokens != c.want[0]+c.want[1] {
				t.Errorf("%s: this month %+v, want prompt %d completion %d requests %d", c.name, m, c.want[0], c.want[1], c.want[2])
			}
			if m.Month != time.Now().UTC().Format("2006-01") || c.got.LastMonth.Tokens != 0 || c.got.Budget.LLMTokens != 0 || c.got.LLMBudgetReached {
				t.Errorf("%s: report %+v", c.name, c.got)
			}
		}

		// Every call was attributed: nothing charged to the operator.
		if op, err := w.Store.GetUsage(context.Background(), "operator", time.Now().UTC().Format("2006-01")); err != nil || op.LLMRequests != 0 {
			t.Errorf("operator row %+v (%v), want no calls without a tenant", op, err)
		}
		if strings.Contains(w.Logs.String(), "without a tenant") {
			t.Error("a call without a tenant was logged")
		}

		// Prometheus: the same numbers, labelled by tenant.
		res, err := http.Get(w.URL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, line := range []string{
			fmt.Sprintf(`parley_llm_tokens_total{kind="prompt",tenant=%q} %d`, acme.TenantID, want[true][0]),
			fmt.Sprintf(`parley_llm_tokens_total{kind="completion",tenant=%q} %d`, beta.TenantID, want[false][1]),
		} {
			if !strings.Contains(string(body), line) {
				t.Errorf("/metrics lacks %q", line)
			}
		}
	})
}

// At the tenant's token budget the AI agent answers as without an LLM —
// the knowledge passage, or a holding reply and a ticket — and the model
// gets no further request; the conversation's log says why.
func TestTokenBudgetAnswersOffline(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		w := newWorld(t, string(e), func(r llmtest.Request) llmtest.Reply { return answer("Abrimos às 9:00.", false) })
		tenantID := w.usage(t, w.key).TenantID
		if err := w.Store.SetBudget(context.Background(), tenantID, store.Budget{LLMTokens: 1}); err != nil {
			t.Fatal(err)
		}
		w.verified(t, w.key)
		w.write(t, "wamid.B.1", "When do you open?")
		if sent := w.waitSent(t, 1); sent[0].Text != "Abrimos às 9:00." {
			t.Fatalf("first answer %q, want the model's (the budget was not spent yet)", sent[0].Text)
		}
		calls := w.model.Calls()
		u := w.usage(t, w.key)
		if !u.LLMBudgetReached || u.Budget.LLMTokens != 1 || u.ThisMonth.Tokens < 1 {
			t.Fatalf("after one answer: %+v, want the budget of 1 token reached", u)
		}

		w.write(t, "wamid.B.2", "What time do you open on Saturday?")
		sent := w.waitSent(t, 2)
		if w.model.Calls() != calls {
			t.Fatalf("the model got %d more requests after the budget was reached", w.model.Calls()-calls)
		}
		if !strings.Contains(sent[1].Text, "We open at 9:00") {
			t.Fatalf("second answer %q, want the knowledge passage (offline mode)", sent[1].Text)
		}

		var convs struct{ Items []struct{ ID string } }
		w.Do("GET", "/api/conversations", w.key, nil).JSON(t, &convs)
		var events struct {
			Items []struct {
				Name    string
				Payload map[string]any
			}
		}
		w.Do("GET", "/api/conversations/"+convs.Items[0].ID+"/events?limit=200", w.key, nil).JSON(t, &events)
		var reached, answered map[string]any
		for _, ev := range events.Items {
			switch ev.Name {
			case event.BudgetReached:
				reached = ev.Payload
			case event.AIAgentAnswerGenerated:
				answered = ev.Payload
			}
		}
		if reached == nil || reached["budget"] != "llm_tokens" || reached["outcome"] != "answered_offline" || reached["limit"] != float64(1) {
			t.Fatalf("Budget Reached event: %v", reached)
		}
		if answered["mode"] != "offline" || !strings.Contains(fmt.Sprint(answered["reason"]), "budget") {
			t.Fatalf("last AI Agent Answer Generated: %v, want mode offline with the budget as reason", answered)
		}
		if !strings.Contains(w.Logs.String(), "token budget reached") {
			t.Error("no log line gives the reason")
		}
	})
}

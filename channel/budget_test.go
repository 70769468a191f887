package channel_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/store"
)

// At the tenant's template budget a template message is not sent: it
// fails with budget_reached, visibly (its status, its conversation's log,
// GET /api/usage); the accepted ones are counted; free-form text still goes.
func TestTemplateBudgetStopsTemplateSends(t *testing.T) {
	t.Parallel()
	eachSender(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if err := e.Store.SetBudget(ctx, e.tenant.ID, store.Budget{TemplateSends: 2}); err != nil {
			t.Fatal(err)
		}
		_, key, err := e.Store.CreateAPIKey(ctx, e.tenant.ID, "usage")
		if err != nil {
			t.Fatal(err)
		}
		conv := e.open(e.wa, anaE164, ago(time.Minute))
		tpl := func(n string) parley.Message {
			return parley.Message{Template: &parley.Template{Name: "order_ready", Language: "en", Parameters: []string{n}}}
		}
		for i, n := range []string{"#1", "#2"} {
			m := e.queue(conv, tpl(n))
			if _, err := e.graph.WaitSent(ctx, i+1); err != nil {
				t.Fatal(err)
			}
			e.until(m.ID, parley.StatusSent)
		}

		over := e.queue(conv, tpl("#3"))
		failed := e.until(over.ID, parley.StatusFailed)
		if failed.ErrorCode != channel.CodeBudgetReached || failed.ErrorReason == "" {
			t.Fatalf("third template: code %q reason %q, want %q with a reason", failed.ErrorCode, failed.ErrorReason, channel.CodeBudgetReached)
		}
		if p := e.failedEvent(conv.ID, over.ID); p["error_code"] != channel.CodeBudgetReached {
			t.Fatalf("Message Send Failed payload %v", p)
		}
		var reached map[string]any
		for _, ev := range e.events(conv.ID) {
			if ev.Name == event.BudgetReached {
				reached = ev.Payload
			}
		}
		if reached == nil || reached["budget"] != "template_sends" || reached["outcome"] != "message_failed" ||
			reached["message_id"] != over.ID || reached["used"] != float64(2) || reached["limit"] != float64(2) {
			t.Fatalf("Budget Reached event: %v", reached)
		}

		// Free-form text is not a template: it still goes.
		text := e.queue(conv, parley.Message{Content: "Your order is on its way."})
		sent, err := e.graph.WaitSent(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		e.until(text.ID, parley.StatusSent)
		if len(sent) != 3 || sent[2].Type != "text" {
			t.Fatalf("the Graph API got %d messages, the last %+v; want the two templates and the text", len(sent), sent[len(sent)-1])
		}

		var u struct {
			ThisMonth struct {
				TemplateSends int64 `json:"template_sends"`
			} `json:"this_month"`
			Budget struct {
				TemplateSends int64 `json:"template_sends"`
			} `json:"budget"`
			TemplateBudgetReached bool `json:"template_budget_reached"`
			LLMBudgetReached      bool `json:"llm_budget_reached"`
		}
		r := e.Do("GET", "/api/usage", key, nil)
		r.JSON(t, &u)
		if r.Status != 200 || u.ThisMonth.TemplateSends != 2 || u.Budget.TemplateSends != 2 || !u.TemplateBudgetReached || u.LLMBudgetReached {
			t.Fatalf("GET /api/usage = %d %s", r.Status, r.Body)
		}
	})
}

package followup_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// With the tenant's token budget spent, a generated follow-up is the
// rule's own text, says why, and asks the model nothing.
func TestFollowUpAtTokenBudgetSendsTheRuleText(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e, fake := newModelEnv(t, engine)
		ctx := context.Background()
		if err := e.p.Store.SetBudget(ctx, e.tenant.ID, store.Budget{LLMTokens: 10}); err != nil {
			t.Fatal(err)
		}
		if err := e.p.Store.AddUsage(ctx, e.tenant.ID, store.Usage{PromptTokens: 10, LLMRequests: 1}); err != nil {
			t.Fatal(err)
		}
		e.rule(map[string]any{"title": "Win back", "message": "Still interested in the sofa?", "delay": "1h"})
		conv := e.customerWrites("+5511999990041", "Do you have the blue velvet sofa?")
		e.agentWrites(conv, "Yes, it is 499€.")
		calls := fake.Calls()
		e.clk.Advance(time.Hour)
		e.request(conv)

		got := e.followUps(conv)
		if len(got) != 1 || got[0].Content != "Still interested in the sofa?" {
			t.Fatalf("follow-ups = %+v, want the rule's text", got)
		}
		if fake.Calls() != calls {
			t.Fatalf("the model got %d requests at the budget", fake.Calls()-calls)
		}
		if sent := e.events(conv, followup.EventSent); len(sent) != 1 || sent[0].Payload["reason"] != followup.ReasonBudgetReached {
			t.Fatalf("sent events = %+v", sent)
		}
	})
}

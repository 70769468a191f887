package leads_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// Both phases of the lead sequence call are charged to the key's tenant
// (the operator pays the LLM key; the tenant's usage shows it).
func TestFollowUpTokensChargedToTheTenant(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, envOpts{llm: true, copywriter: true})
		res, out := e.followUp(e.key, e.body(map[string]any{"userId": nil, "agent_id": e.sales}))
		if res.Status != 200 || !out.Success {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		var prompt int64
		for _, r := range e.llm.Requests() {
			prompt += int64(len(r.Prompt())/4 + 1) // what llmtest reports
		}
		u, err := e.p.Store.GetUsage(context.Background(), e.tenant.ID, time.Now().UTC().Format("2006-01"))
		if err != nil {
			t.Fatal(err)
		}
		if u.LLMRequests != 2 || u.PromptTokens != prompt || u.CompletionTokens == 0 {
			t.Fatalf("tenant usage %+v, want 2 requests and %d prompt tokens", u, prompt)
		}
	})
}

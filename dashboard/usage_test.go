package dashboard_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// The Usage tab shows this month's and last month's spending and the
// budget the operator set, with "Reached" when it is spent.
func TestUsageTabShowsSpendingAndBudget(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
		other := e.tenantWithUser("Other", "bo@other.test", parley.UserAdmin)
		ctx := context.Background()
		// June 2025 (the env's clock): 1500 tokens, 3 templates; May: 700 tokens.
		must(t, e.st.AddUsage(ctx, tn.ID, store.Usage{PromptTokens: 1200, CompletionTokens: 300, LLMRequests: 4, TemplateSends: 3}))
		must(t, e.st.AddUsage(ctx, other.ID, store.Usage{PromptTokens: 99999, LLMRequests: 1}))
		must(t, e.st.SetBudget(ctx, tn.ID, store.Budget{LLMTokens: 1000, TemplateSends: 10}))
		e.clk.Set(time.Date(2025, 5, 20, 0, 0, 0, 0, time.UTC))
		must(t, e.st.AddUsage(ctx, tn.ID, store.Usage{PromptTokens: 600, CompletionTokens: 100, LLMRequests: 2}))
		e.clk.Set(time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC))

		b := e.browser()
		b.mustSignIn("ana@acme.test")
		p := b.get("/settings/usage")
		if p.Status != http.StatusOK {
			t.Fatalf("GET /settings/usage = %d\n%s", p.Status, p.Body)
		}
		for _, want := range []string{
			`href="/settings/usage" aria-current="page"`,
			`<tr data-month="2025-06">`, `<td data-label="AI tokens">1500</td>`, `<td data-label="Template sends">3</td>`,
			`<tr data-month="2025-05">`, `<td data-label="AI tokens">700</td>`,
			"1500 of 1000", "Reached", "3 of 10", "Within budget",
		} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("usage tab lacks %s", want)
			}
		}
		if strings.Contains(p.Body, "99999") {
			t.Error("another tenant's usage shown")
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

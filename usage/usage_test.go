package usage_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
	"github.com/parleyhq/parley/usage"
)

// Usage adds up per tenant and calendar month; a call without a tenant is
// charged to "operator" and logged; the budget is checked against this
// month only, so a new month starts fresh.
func TestMeterMonthsTenantsAndBudget(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		ctx := context.Background()
		clk := clock.NewFake(time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC))
		st := storetest.Open(t, e, clk)
		var logs bytes.Buffer
		m := usage.New(st, slog.New(slog.NewJSONHandler(&logs, nil)), nil)
		a, err := st.CreateTenant(ctx, parley.Tenant{Name: "A", TimeZone: "UTC", DefaultLanguage: "en"})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SetBudget(ctx, a.ID, store.Budget{LLMTokens: 100}); err != nil {
			t.Fatal(err)
		}

		m.Record(ctx, a.ID, llm.Usage{PromptTokens: 60, CompletionTokens: 10})
		if err := m.Allow(ctx, a.ID); err != nil {
			t.Fatalf("70 of 100 tokens: %v", err)
		}
		m.Record(ctx, a.ID, llm.Usage{PromptTokens: 25, CompletionTokens: 5})
		err = m.Allow(ctx, a.ID)
		var be *usage.BudgetError
		if !errors.As(err, &be) || !errors.Is(err, llm.ErrBudgetReached) || be.Used != 100 || be.Limit != 100 || be.Month != "2026-11" {
			t.Fatalf("100 of 100 tokens: %v", err)
		}

		m.Record(ctx, "", llm.Usage{PromptTokens: 7, CompletionTokens: 3})
		if op, _ := st.GetUsage(ctx, usage.Operator, "2026-11"); op.Tokens() != 10 || op.LLMRequests != 1 {
			t.Fatalf("operator row %+v", op)
		}
		if !strings.Contains(logs.String(), "without a tenant") {
			t.Errorf("no log line for the call without a tenant: %s", logs.String())
		}

		// December: the budget is this month's; November is last month.
		clk.Advance(2 * time.Hour)
		if err := m.Allow(ctx, a.ID); err != nil {
			t.Fatalf("a new month: %v", err)
		}
		m.Record(ctx, a.ID, llm.Usage{PromptTokens: 4, CompletionTokens: 1})
		r, err := usage.ReportFor(ctx, st.Read(), a.ID, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if r.This.Month != "2026-12" || r.This.Tokens() != 5 || r.Last.Month != "2026-11" || r.Last.Tokens() != 100 || r.Last.LLMRequests != 2 || r.LLMReached() {
			t.Fatalf("report %+v", r)
		}
	})
}

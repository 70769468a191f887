package web

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/usage"
)

// MonthUsage is what a tenant spent in one calendar month (UTC).
type MonthUsage struct {
	Month            string `json:"month" doc:"YYYY-MM, UTC"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	Tokens           int64  `json:"tokens" doc:"prompt plus completion tokens: what the token budget counts"`
	LLMRequests      int64  `json:"llm_requests"`
	TemplateSends    int64  `json:"template_sends" doc:"WhatsApp template messages the provider accepted"`
}

// UsageBudget is the monthly limits the operator set; 0 means no limit.
type UsageBudget struct {
	LLMTokens     int64 `json:"llm_tokens"`
	TemplateSends int64 `json:"template_sends"`
}

// UsageReport is GET /api/usage.
type UsageReport struct {
	TenantID              string      `json:"tenant_id"`
	ThisMonth             MonthUsage  `json:"this_month"`
	LastMonth             MonthUsage  `json:"last_month"`
	Budget                UsageBudget `json:"budget" doc:"set by the operator with parley tenant budget"`
	LLMBudgetReached      bool        `json:"llm_budget_reached" doc:"the AI agent answers offline until the month ends"`
	TemplateBudgetReached bool        `json:"template_budget_reached" doc:"template messages fail with budget_reached until the month ends"`
}

func monthUsage(u store.Usage) MonthUsage {
	return MonthUsage{Month: u.Month, PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens,
		Tokens: u.Tokens(), LLMRequests: u.LLMRequests, TemplateSends: u.TemplateSends}
}

// UsageReportOf is the API's shape of a usage report (the dashboard shows
// the same numbers).
func UsageReportOf(r usage.Report) UsageReport {
	return UsageReport{TenantID: r.TenantID, ThisMonth: monthUsage(r.This), LastMonth: monthUsage(r.Last),
		Budget:           UsageBudget{LLMTokens: r.Budget.LLMTokens, TemplateSends: r.Budget.TemplateSends},
		LLMBudgetReached: r.LLMReached(), TemplateBudgetReached: r.TemplatesReached()}
}

func (s *Server) registerUsage() {
	huma.Register(s.api, huma.Operation{OperationID: "get-usage", Method: http.MethodGet, Path: "/api/usage",
		Summary:     "LLM tokens and template sends this month and last, and the budget",
		Description: "What the key's tenant spent of the operator's LLM key and WhatsApp templates, per calendar month (UTC), and the monthly budget the operator set (0: no limit).",
		Tags:        []string{"Tenant"}, Security: bearer},
		func(ctx context.Context, _ *struct{}) (*bodyOut[UsageReport], error) {
			r, err := usage.ReportFor(ctx, s.store.Read(), TenantFrom(ctx).ID, s.store.Clock().Now())
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[UsageReport]{Body: UsageReportOf(r)}, nil
		})
}

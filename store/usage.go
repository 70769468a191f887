package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Usage is what a tenant spent in one calendar month (UTC).
type Usage struct {
	Month            string // "2026-12"
	PromptTokens     int64
	CompletionTokens int64
	LLMRequests      int64
	TemplateSends    int64
}

// Tokens is prompt plus completion tokens, what a token budget counts.
func (u Usage) Tokens() int64 { return u.PromptTokens + u.CompletionTokens }

// Budget is a tenant's monthly limits; 0 means no limit.
type Budget struct {
	LLMTokens     int64
	TemplateSends int64
}

// Month names the calendar month (UTC) of t as usage rows key it.
func Month(t time.Time) string { return t.UTC().Format("2006-01") }

// AddUsage adds to the tenant's row of the month of now, in one statement.
func (q *Queries) AddUsage(ctx context.Context, tenantID string, add Usage) error {
	now := q.clock.Now()
	_, err := q.q.ExecContext(ctx, `INSERT INTO tenant_usage
		(tenant_id, month, prompt_tokens, completion_tokens, llm_requests, template_sends, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (tenant_id, month) DO UPDATE SET
			prompt_tokens = tenant_usage.prompt_tokens + excluded.prompt_tokens,
			completion_tokens = tenant_usage.completion_tokens + excluded.completion_tokens,
			llm_requests = tenant_usage.llm_requests + excluded.llm_requests,
			template_sends = tenant_usage.template_sends + excluded.template_sends,
			updated_at = excluded.updated_at`,
		tenantID, Month(now), add.PromptTokens, add.CompletionTokens, add.LLMRequests, add.TemplateSends, micros(now))
	if err != nil {
		return fmt.Errorf("add usage: %w", err)
	}
	return nil
}

// GetUsage returns the tenant's usage in month ("2006-01"); zero when
// nothing was spent.
func (q *Queries) GetUsage(ctx context.Context, tenantID, month string) (Usage, error) {
	u := Usage{Month: month}
	err := q.q.QueryRowContext(ctx, `SELECT prompt_tokens, completion_tokens, llm_requests, template_sends
		FROM tenant_usage WHERE tenant_id = $1 AND month = $2`, tenantID, month).
		Scan(&u.PromptTokens, &u.CompletionTokens, &u.LLMRequests, &u.TemplateSends)
	if errors.Is(err, sql.ErrNoRows) {
		return u, nil
	}
	if err != nil {
		return u, fmt.Errorf("get usage: %w", err)
	}
	return u, nil
}

// SetBudget saves the tenant's monthly limits (0: none). The tenant must
// exist.
func (q *Queries) SetBudget(ctx context.Context, tenantID string, b Budget) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO tenant_budgets (tenant_id, llm_tokens, template_sends, updated_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id) DO UPDATE SET llm_tokens = excluded.llm_tokens,
			template_sends = excluded.template_sends, updated_at = excluded.updated_at`,
		tenantID, b.LLMTokens, b.TemplateSends, micros(q.clock.Now()))
	if err != nil {
		return fmt.Errorf("set budget: %w", err)
	}
	return nil
}

// GetBudget returns the tenant's limits; zero (no limit) when none is set.
func (q *Queries) GetBudget(ctx context.Context, tenantID string) (Budget, error) {
	var b Budget
	err := q.q.QueryRowContext(ctx, `SELECT llm_tokens, template_sends FROM tenant_budgets WHERE tenant_id = $1`, tenantID).
		Scan(&b.LLMTokens, &b.TemplateSends)
	if errors.Is(err, sql.ErrNoRows) {
		return Budget{}, nil
	}
	if err != nil {
		return b, fmt.Errorf("get budget: %w", err)
	}
	return b, nil
}

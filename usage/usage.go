// Package usage charges what tenants spend of the operator's shared
// resources — tokens on the one LLM key, WhatsApp template sends — per
// tenant and calendar month (UTC), and enforces the monthly budgets the
// operator sets (parley tenant budget).
package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/store"
)

// Operator is the usage row of LLM calls made without a tenant.
const Operator = "operator"

// Kinds of budget, as BudgetError and the Budget Reached event name them.
const (
	KindLLMTokens     = "llm_tokens"
	KindTemplateSends = "template_sends"
)

// CodeBudgetReached is the error code of a template message not sent
// because its tenant's template budget is spent.
const CodeBudgetReached = "budget_reached"

// BudgetError says a tenant's monthly budget of one kind is spent. It
// matches llm.ErrBudgetReached for token budgets.
type BudgetError struct {
	Kind  string // KindLLMTokens or KindTemplateSends
	Month string
	Used  int64
	Limit int64
}

func (e *BudgetError) Error() string {
	what := "LLM token"
	if e.Kind == KindTemplateSends {
		what = "template send"
	}
	return fmt.Sprintf("the tenant's monthly %s budget is reached (%d of %d in %s)", what, e.Used, e.Limit, e.Month)
}

// Is makes errors.Is(err, llm.ErrBudgetReached) true for a token budget.
func (e *BudgetError) Is(target error) bool {
	return e.Kind == KindLLMTokens && target == llm.ErrBudgetReached
}

// Meter records usage and checks budgets. Its methods are safe for
// concurrent use; a nil *Meter allows everything and records nothing.
//
// LLM calls are charged by the llm client itself (Meter is its
// llm.Meter): callers only say whose work it is with parley.WithTenant,
// and job workers get that from their job's tenant_id (jobs package). A
// call without a tenant is charged to Operator and logged.
type Meter struct {
	store     *store.Store
	log       *slog.Logger
	tokens    *prometheus.CounterVec
	templates *prometheus.CounterVec
}

// New returns a meter writing to st and counting on reg (which may be nil).
func New(st *store.Store, log *slog.Logger, reg prometheus.Registerer) *Meter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Meter{store: st, log: log.With("component", "usage"),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_llm_tokens_total",
			Help: "LLM tokens spent, by tenant (\"operator\" for calls without one) and kind (prompt, completion)."},
			[]string{"tenant", "kind"}),
		templates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_template_sends_total",
			Help: "WhatsApp template messages the provider accepted, by tenant."}, []string{"tenant"}),
	}
	if reg != nil {
		reg.MustRegister(m.tokens, m.templates)
	}
	return m
}

// Allow is llm.Meter's: it refuses a call once the tenant's tokens this
// month reach its budget. A failure to read is logged and allows the call:
// a database blip should not silence the AI agent.
func (m *Meter) Allow(ctx context.Context, tenantID string) error {
	if m == nil || tenantID == "" {
		return nil
	}
	err := m.check(ctx, m.store.Read(), tenantID, KindLLMTokens)
	var be *BudgetError
	if err != nil && !errors.As(err, &be) {
		m.log.WarnContext(ctx, "could not check the token budget; allowing the call", "tenant_id", tenantID, "err", err)
		return nil
	}
	if be != nil {
		m.log.InfoContext(ctx, "LLM call refused: token budget reached", "tenant_id", tenantID, "used", be.Used, "limit", be.Limit)
	}
	return err
}

// Record is llm.Meter's: one upsert of the month's row per answered request.
func (m *Meter) Record(ctx context.Context, tenantID string, u llm.Usage) {
	if m == nil {
		return
	}
	if tenantID == "" {
		tenantID = Operator
		m.log.WarnContext(ctx, "LLM call without a tenant: charged to the operator",
			"prompt_tokens", u.PromptTokens, "completion_tokens", u.CompletionTokens)
	}
	m.tokens.WithLabelValues(tenantID, "prompt").Add(float64(u.PromptTokens))
	m.tokens.WithLabelValues(tenantID, "completion").Add(float64(u.CompletionTokens))
	// The request is paid for whatever happens to the caller's context.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := m.store.AddUsage(ctx, tenantID, store.Usage{PromptTokens: u.PromptTokens,
		CompletionTokens: u.CompletionTokens, LLMRequests: 1}); err != nil {
		m.log.ErrorContext(ctx, "LLM usage not recorded", "tenant_id", tenantID,
			"prompt_tokens", u.PromptTokens, "completion_tokens", u.CompletionTokens, "err", err)
	}
}

// TemplateAllowed returns a *BudgetError when the tenant's template sends
// this month reached its budget, read through q.
func (m *Meter) TemplateAllowed(ctx context.Context, q *store.Queries, tenantID string) error {
	if m == nil {
		return nil
	}
	return m.check(ctx, q, tenantID, KindTemplateSends)
}

// CountTemplate charges one accepted template send, in q's transaction
// (the one that records the provider's id).
func (m *Meter) CountTemplate(ctx context.Context, q *store.Queries, tenantID string) error {
	if m == nil {
		return nil
	}
	if err := q.AddUsage(ctx, tenantID, store.Usage{TemplateSends: 1}); err != nil {
		return err
	}
	q.AfterCommit(ctx, func(context.Context) { m.templates.WithLabelValues(tenantID).Inc() })
	return nil
}

func (m *Meter) check(ctx context.Context, q *store.Queries, tenantID, kind string) error {
	b, err := q.GetBudget(ctx, tenantID)
	if err != nil {
		return err
	}
	limit := b.LLMTokens
	if kind == KindTemplateSends {
		limit = b.TemplateSends
	}
	if limit <= 0 {
		return nil
	}
	month := store.Month(m.store.Clock().Now())
	u, err := q.GetUsage(ctx, tenantID, month)
	if err != nil {
		return err
	}
	used := u.Tokens()
	if kind == KindTemplateSends {
		used = u.TemplateSends
	}
	if used >= limit {
		return &BudgetError{Kind: kind, Month: month, Used: used, Limit: limit}
	}
	return nil
}

// Report is a tenant's usage this month and last, with its budget.
type Report struct {
	TenantID string
	This     store.Usage
	Last     store.Usage
	Budget   store.Budget
}

// LLMReached and TemplatesReached say whether this month's budget is spent.
func (r Report) LLMReached() bool {
	return r.Budget.LLMTokens > 0 && r.This.Tokens() >= r.Budget.LLMTokens
}

func (r Report) TemplatesReached() bool {
	return r.Budget.TemplateSends > 0 && r.This.TemplateSends >= r.Budget.TemplateSends
}

// ReportFor reads the tenant's report as of now.
func ReportFor(ctx context.Context, q *store.Queries, tenantID string, now time.Time) (Report, error) {
	r := Report{TenantID: tenantID}
	var err error
	this := now.UTC()
	last := time.Date(this.Year(), this.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	if r.This, err = q.GetUsage(ctx, tenantID, store.Month(this)); err != nil {
		return r, err
	}
	if r.Last, err = q.GetUsage(ctx, tenantID, store.Month(last)); err != nil {
		return r, err
	}
	r.Budget, err = q.GetBudget(ctx, tenantID)
	return r, err
}

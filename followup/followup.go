// Package followup keeps silent conversations from going cold: per-tenant
// rules send a message a delay after the last agent message, at most once
// per conversation session, after checking the business rules, the
// tenant's availability hours and WhatsApp's 24-hour window. Every decision
// lands in the conversation's event log with its reason. (Lead sequences,
// package leads, are another feature.)
package followup

import (
	"context"
	"log/slog"

	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/store"
)

// Names of the follow-up entries in a conversation's event log.
const (
	EventRequest        = "Follow-Up Request"
	EventSent           = "Follow-Up Sent"
	EventSkipped        = "Follow-Up Skipped"
	EventDelayed        = "Follow-Up Delayed"
	EventSurveyAnswered = "Follow-Up Survey Answered"
)

// Reasons a follow-up is skipped or delayed, as logged and counted.
const (
	ReasonNotOpen              = "conversation_not_open"
	ReasonFeatureOff           = "followups_feature_off"
	ReasonNoAppointmentsModule = "appointments_module_off"
	ReasonAppointment          = "existing_appointment"
	ReasonChannelInactive      = "channel_inactive"
	ReasonOutsideWindow        = "outside_24h_window_without_template"
	ReasonOutsideHours         = "outside_availability_hours"
	ReasonNoChannel            = "no_channel"
	ReasonGenerationFailed     = "generation_failed_used_rule_text"
	// ReasonBudgetReached: the tenant's monthly LLM token budget is spent
	// (parley tenant budget), so the rule's own text was sent.
	ReasonBudgetReached = "llm_budget_reached_used_rule_text"
	// ReasonOncePerSession: another rule's follow-up, due earlier, went out
	// in the same session (at most one follow-up per session).
	ReasonOncePerSession = "once_per_session"
)

// Writer is the language model a generated follow-up is written by.
// *llm.Client is one.
type Writer interface {
	Complete(ctx context.Context, req llm.Request) (*llm.Response, error)
}

// Service decides and sends follow-ups.
type Service struct {
	Store  *store.Store
	Jobs   *jobs.Inserter
	Outbox *channel.Outbox // follow-ups leave through it, role ai
	LLM    Writer          // nil: the rule's own text is sent (no-LLM mode)
	Clock  clock.Clock
	Log    *slog.Logger
	// Metrics may be nil.
	Metrics *Metrics
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

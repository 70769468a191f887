package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parleyhq/parley"
)

// This file holds follow-ups: each rule's decision per session (the
// followups table); the rules are in followup_rules.go, the due-time index
// in followup_due.go. Every query taking a tenant id is scoped by it.

// ErrDecided is returned when a rule already has a decision in the
// conversation's session. On PostgreSQL the transaction is then aborted and
// must be rolled back.
var ErrDecided = errors.New("follow-up already decided in this session")

const followUpCols = `id, tenant_id, rule_id, conversation_id, session_started_at, outcome, reason, message_id, survey, reply_window,
	replied_at, answer, score, answered_at, created_at`

func scanFollowUp(row interface{ Scan(...any) error }) (parley.FollowUp, error) {
	var f parley.FollowUp
	var session, window, created int64
	var messageID, answer sql.NullString
	var replied, answered, score sql.NullInt64
	if err := row.Scan(&f.ID, &f.TenantID, &f.RuleID, &f.ConversationID, &session, &f.Outcome, &f.Reason, &messageID, &f.Survey, &window,
		&replied, &answer, &score, &answered, &created); err != nil {
		return f, err
	}
	f.SessionStartedAt, f.CreatedAt, f.ReplyWindow = fromMicros(session), fromMicros(created), time.Duration(window)*time.Microsecond
	f.MessageID, f.Answer = messageID.String, answer.String
	f.RepliedAt, f.AnsweredAt = fromNullMicros(replied), fromNullMicros(answered)
	if score.Valid {
		s := int(score.Int64)
		f.Score = &s
	}
	return f, nil
}

// ClaimFollowUp records a rule's decision for a session. A second decision
// for the same rule, conversation and session gives ErrDecided.
func (q *Queries) ClaimFollowUp(ctx context.Context, f parley.FollowUp) (parley.FollowUp, error) {
	f.ID, f.CreatedAt = newID(), q.clock.Now()
	_, err := q.q.ExecContext(ctx, `INSERT INTO followups (id, tenant_id, rule_id, conversation_id, session_started_at, outcome, reason, survey, reply_window, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		f.ID, f.TenantID, f.RuleID, f.ConversationID, micros(f.SessionStartedAt), f.Outcome, f.Reason, f.Survey, f.ReplyWindow.Microseconds(), micros(f.CreatedAt))
	if isUniqueViolation(err) {
		return f, ErrDecided
	}
	if err != nil {
		return f, fmt.Errorf("claim follow-up: %w", err)
	}
	return f, nil
}

// SetFollowUpMessage links a sent follow-up to its message.
func (q *Queries) SetFollowUpMessage(ctx context.Context, tenantID, id, messageID string) error {
	res, err := q.q.ExecContext(ctx, `UPDATE followups SET message_id = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, id, messageID)
	return affected(res, err, "follow-up")
}

// DecidedRuleIDs lists the rules already decided in a conversation session.
func (q *Queries) DecidedRuleIDs(ctx context.Context, conversationID string, session time.Time) (map[string]bool, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT rule_id FROM followups WHERE conversation_id = $1 AND session_started_at = $2`, conversationID, micros(session))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// GetFollowUp returns one of the tenant's follow-ups.
func (q *Queries) GetFollowUp(ctx context.Context, tenantID, id string) (parley.FollowUp, error) {
	f, err := scanFollowUp(q.q.QueryRowContext(ctx, `SELECT `+followUpCols+` FROM followups WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return f, rowErr(err, "follow-up")
}

// LatestSentFollowUp returns the conversation's most recent sent follow-up.
func (q *Queries) LatestSentFollowUp(ctx context.Context, tenantID, conversationID string) (parley.FollowUp, error) {
	f, err := scanFollowUp(q.q.QueryRowContext(ctx, `SELECT `+followUpCols+` FROM followups
		WHERE tenant_id = $1 AND conversation_id = $2 AND outcome = 'sent' ORDER BY created_at DESC, id DESC LIMIT 1`, tenantID, conversationID))
	return f, rowErr(err, "follow-up")
}

// ListFollowUps lists a conversation's follow-up decisions, oldest first.
func (q *Queries) ListFollowUps(ctx context.Context, tenantID, conversationID string) ([]parley.FollowUp, error) {
	items, _, err := list(ctx, q, Page{Limit: 200}, scanFollowUp, func(f parley.FollowUp) string { return f.ID },
		`SELECT `+followUpCols+` FROM followups WHERE tenant_id = $1 AND conversation_id = $4 AND id > $2 ORDER BY id LIMIT $3`, tenantID, conversationID)
	return items, err
}

// MarkFollowUpsReplied records a customer message at `at` as the reply to
// the conversation's sent follow-ups still inside their reply window. It
// returns how many were marked.
func (q *Queries) MarkFollowUpsReplied(ctx context.Context, tenantID, conversationID string, at time.Time) (int64, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE followups SET replied_at = $3
		WHERE tenant_id = $1 AND conversation_id = $2 AND outcome = 'sent' AND replied_at IS NULL
		AND created_at <= $3 AND created_at + reply_window >= $3`, tenantID, conversationID, micros(at))
	if err != nil {
		return 0, fmt.Errorf("mark follow-ups replied: %w", err)
	}
	return res.RowsAffected()
}

// AnswerFollowUp stores a survey answer; a later answer replaces an earlier one.
func (q *Queries) AnswerFollowUp(ctx context.Context, tenantID, id, answer string, score *int, at time.Time) error {
	var s sql.NullInt64
	if score != nil {
		s = sql.NullInt64{Int64: int64(*score), Valid: true}
	}
	res, err := q.q.ExecContext(ctx, `UPDATE followups SET answer = $3, score = $4, answered_at = $5 WHERE tenant_id = $1 AND id = $2 AND outcome = 'sent'`,
		tenantID, id, answer, s, micros(at))
	return affected(res, err, "follow-up")
}

// FollowUpStats is how one rule performed.
type FollowUpStats struct {
	Sent         int64            `json:"sent"`
	Skipped      map[string]int64 `json:"skipped" doc:"Skipped decisions by reason"`
	Replied      int64            `json:"replied" doc:"Sent follow-ups the customer answered within the rule's reply window"`
	ResponseRate float64          `json:"response_rate" doc:"replied / sent (0 when nothing was sent)"`
	Answers      map[string]int64 `json:"survey_answers" doc:"Survey answers by value"`
	AverageScore *float64         `json:"average_score,omitempty" doc:"Mean score of csat/nps answers (yes counts 1, no 0)"`
}

// silentWhere selects a tenant's open customer conversations whose last
// message is the agent's and that have not had rule $2 decided, nor any
// follow-up sent, in their current session: the conversations a rule may
// still follow up. Its literals match the conversations_followup_silent
// index's predicate, so both engines read that index.
const silentWhere = `c.tenant_id = $1 AND c.status = 'open' AND c.kind = 'customer' AND c.last_agent_message_at IS NOT NULL
	AND (c.last_customer_message_at IS NULL OR c.last_customer_message_at <= c.last_agent_message_at)
	AND NOT EXISTS (SELECT 1 FROM followups f WHERE f.conversation_id = c.id AND f.session_started_at = c.session_started_at
		AND (f.rule_id = $2 OR f.outcome = 'sent'))`

// SilentConversation is a conversation waiting on the customer, with when
// the agent last wrote.
type SilentConversation struct {
	ID          string
	LastAgentAt time.Time
}

// FollowUpReach is a rule's preview and its reach so far.
type FollowUpReach struct {
	// WouldReachNow counts the open conversations silent for at least the
	// rule's delay that it may still follow up, on its channels, before the
	// business rules and availability hours are checked.
	WouldReachNow int64 `json:"would_reach_now" doc:"Open conversations on the rule's channels silent for at least its delay that have not had a follow-up this session: what it would reach now (before the business rules and availability hours)"`
	// Reached counts the conversations the rule has sent a follow-up to.
	Reached int64 `json:"reached" doc:"Conversations this rule has sent a follow-up to"`
}

// SessionFollowUps lists the rules decided in a conversation session and
// whether one of them sent a follow-up (at most one is sent per session).
func (q *Queries) SessionFollowUps(ctx context.Context, conversationID string, session time.Time) (decided map[string]bool, sent bool, err error) {
	rows, err := q.q.QueryContext(ctx, `SELECT rule_id, outcome FROM followups WHERE conversation_id = $1 AND session_started_at = $2`, conversationID, micros(session))
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	decided = map[string]bool{}
	for rows.Next() {
		var id, outcome string
		if err := rows.Scan(&id, &outcome); err != nil {
			return nil, false, err
		}
		decided[id] = true
		sent = sent || outcome == parley.FollowUpSent
	}
	return decided, sent, rows.Err()
}

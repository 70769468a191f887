package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley"
)

// answer_queue is the answer stage's work (migration 0180): a stage claims
// a batch in one statement under a lease and a claim token, and only the
// holder of a row's current claim finishes it. answered_messages is the
// ledger that keeps a message from being answered twice.

// ToAnswer is a claimed answer_queue row: the conversation has messageID
// for the AI agent to answer.
type ToAnswer struct {
	TenantID       string
	ConversationID string
	MessageID      string
	Attempts       int
}

// QueueAnswer asks the answer stage to answer messageID in its
// conversation, in the caller's transaction. A conversation has one row:
// a newer message replaces an older one (and frees the row's claim, so the
// newer message is answered at once; the older answer, if one is being
// written, is dropped at its commit).
func (q *Queries) QueueAnswer(ctx context.Context, tenantID, conversationID, messageID string) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO answer_queue (conversation_id, tenant_id, message_id, queued_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (conversation_id) DO UPDATE SET
			lease_until = CASE WHEN excluded.message_id > answer_queue.message_id THEN NULL ELSE answer_queue.lease_until END,
			claim = CASE WHEN excluded.message_id > answer_queue.message_id THEN NULL ELSE answer_queue.claim END,
			attempts = CASE WHEN excluded.message_id > answer_queue.message_id THEN 0 ELSE answer_queue.attempts END,
			message_id = CASE WHEN excluded.message_id > answer_queue.message_id THEN excluded.message_id ELSE answer_queue.message_id END`,
		conversationID, tenantID, messageID, micros(q.clock.Now()))
	if err != nil {
		return fmt.Errorf("queue answer: %w", err)
	}
	return nil
}

// ClaimAnswers claims up to n conversations to answer whose lease is free
// or ran out, for lease, under claim; longest waiting first.
func (q *Queries) ClaimAnswers(ctx context.Context, claim string, n int, lease time.Duration) ([]ToAnswer, error) {
	now := q.clock.Now()
	rows, err := q.q.QueryContext(ctx, `UPDATE answer_queue SET lease_until = $1, claim = $2, attempts = attempts + 1
		WHERE conversation_id IN (SELECT conversation_id FROM answer_queue WHERE lease_until IS NULL OR lease_until <= $3
			ORDER BY queued_at LIMIT $4`+q.skipLocked()+`)
		RETURNING tenant_id, conversation_id, message_id, attempts`, micros(now.Add(lease)), claim, micros(now), n)
	if err != nil {
		return nil, fmt.Errorf("claim answers: %w", err)
	}
	defer rows.Close()
	var out []ToAnswer
	for rows.Next() {
		var a ToAnswer
		if err := rows.Scan(&a.TenantID, &a.ConversationID, &a.MessageID, &a.Attempts); err != nil {
			return nil, fmt.Errorf("claim answers: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// RenewAnswers extends the lease of the rows claim still holds: a slow
// model must not let another process start the same answer.
func (q *Queries) RenewAnswers(ctx context.Context, claim string, lease time.Duration) error {
	_, err := q.q.ExecContext(ctx, `UPDATE answer_queue SET lease_until = $1 WHERE claim = $2`, micros(q.clock.Now().Add(lease)), claim)
	if err != nil {
		return fmt.Errorf("renew answer leases: %w", err)
	}
	return nil
}

// DoneAnswers deletes the rows of conversations claim still holds: their
// answer is committed, or nothing was left to answer. A row a newer
// message freed meanwhile stays, for that message.
func (q *Queries) DoneAnswers(ctx context.Context, claim string, conversationIDs []string) error {
	if len(conversationIDs) == 0 {
		return nil
	}
	args := []any{claim}
	for _, id := range conversationIDs {
		args = append(args, id)
	}
	_, err := q.q.ExecContext(ctx, `DELETE FROM answer_queue WHERE claim = $1 AND conversation_id IN (`+placeholders(2, len(conversationIDs))+`)`, args...)
	if err != nil {
		return fmt.Errorf("done answers: %w", err)
	}
	return nil
}

// PendingAnswers counts conversations waiting for the answer stage.
func (q *Queries) PendingAnswers(ctx context.Context) (int, error) {
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM answer_queue`).Scan(&n)
	return n, err
}

// AnswerState is what decides whether a message still needs the AI
// agent's answer, read in one statement (the answer stage reads it before
// asking the model and again in the commit).
type AnswerState struct {
	Conversation parley.Conversation
	Answered     bool        // the message has a ledger entry
	LatestID     string      // the conversation's newest customer message ("" none)
	Role         parley.Role // the message's role ("" when it is gone)
	TicketOpen   bool        // a ticket holds the conversation
}

// AnswerKey names a message waiting for the AI agent's answer.
type AnswerKey struct{ TenantID, ConversationID, MessageID string }

// AnswerStates is AnswerState for a batch, in one statement, by
// conversation id; a conversation that is gone is missing from the map.
func (q *Queries) AnswerStates(ctx context.Context, keys []AnswerKey) (map[string]AnswerState, error) {
	out := make(map[string]AnswerState, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	var vals strings.Builder
	args := make([]any, 0, 3*len(keys))
	for i, k := range keys {
		if i > 0 {
			vals.WriteString(", ")
		}
		fmt.Fprintf(&vals, "($%d, $%d, $%d)", 3*i+1, 3*i+2, 3*i+3)
		args = append(args, k.TenantID, k.ConversationID, k.MessageID)
	}
	// k.column1..3 are the tenant, conversation and message ids.
	rows, err := q.q.QueryContext(ctx, `SELECT `+prefixCols("c.", conversationCols)+`,
		EXISTS (SELECT 1 FROM answered_messages a WHERE a.tenant_id = k.column1 AND a.message_id = k.column3),
		COALESCE((SELECT m.id FROM messages m WHERE m.tenant_id = k.column1 AND m.conversation_id = k.column2 AND m.role = 'customer' ORDER BY m.id DESC LIMIT 1), ''),
		COALESCE((SELECT m.role FROM messages m WHERE m.tenant_id = k.column1 AND m.id = k.column3), ''),
		EXISTS (SELECT 1 FROM tickets t WHERE t.tenant_id = k.column1 AND t.conversation_id = k.column2 AND t.status = 'open')
		FROM (VALUES `+vals.String()+`) AS k JOIN conversations c ON c.tenant_id = k.column1 AND c.id = k.column2`, args...)
	if err != nil {
		return nil, fmt.Errorf("answer states: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st AnswerState
		var role string
		c, err := scanConversation(extraScan{rows, []any{&st.Answered, &st.LatestID, &role, &st.TicketOpen}})
		if err != nil {
			return nil, fmt.Errorf("answer states: %w", err)
		}
		st.Conversation, st.Role = c, parley.Role(role)
		out[c.ID] = st
	}
	return out, rows.Err()
}

// Answer outcomes recorded in the answer ledger.
const (
	AnsweredByAI       = "ai"         // the AI agent's (or the offline mode's) answer was queued
	AnsweredByTicket   = "ticket"     // escalated: a ticket was opened (with a holding reply)
	AnsweredSuperseded = "superseded" // a later customer message is answered instead
)

// Answered is one entry of the answer ledger.
type Answered struct {
	TenantID        string
	ConversationID  string
	MessageID       string // the customer message answered
	Outcome         string
	AnswerMessageID string
	TicketID        string
	At              time.Time
}

// ErrAlreadyAnswered is returned by MarkAnswered for a message that has an
// entry already: the caller's work was done by an earlier run.
var ErrAlreadyAnswered = &parley.Error{Code: parley.CodeConflict, Message: "the message was already answered"}

// MarkAnswered records that a customer message has been answered. Run it in
// the transaction that queues the answer: the second writer gets
// ErrAlreadyAnswered and must roll back.
func (q *Queries) MarkAnswered(ctx context.Context, a Answered) error {
	if a.At.IsZero() {
		a.At = q.clock.Now()
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO answered_messages (message_id, tenant_id, conversation_id, outcome, answer_message_id, ticket_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, a.MessageID, a.TenantID, a.ConversationID, a.Outcome, nullString(a.AnswerMessageID), nullString(a.TicketID), micros(a.At))
	if isUniqueViolation(err) {
		return ErrAlreadyAnswered
	}
	if err != nil {
		return fmt.Errorf("mark answered: %w", err)
	}
	return nil
}

// MarkAnsweredIfNew records an entry unless the message has one already.
// Unlike MarkAnswered it leaves the transaction usable either way (a unique
// violation aborts a PostgreSQL transaction).
func (q *Queries) MarkAnsweredIfNew(ctx context.Context, a Answered) error {
	if a.At.IsZero() {
		a.At = q.clock.Now()
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO answered_messages (message_id, tenant_id, conversation_id, outcome, answer_message_id, ticket_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (message_id) DO NOTHING`,
		a.MessageID, a.TenantID, a.ConversationID, a.Outcome, nullString(a.AnswerMessageID), nullString(a.TicketID), micros(a.At))
	if err != nil {
		return fmt.Errorf("mark answered: %w", err)
	}
	return nil
}

// IsAnswered reports whether the customer message has a ledger entry.
func (q *Queries) IsAnswered(ctx context.Context, tenantID, messageID string) (bool, error) {
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM answered_messages WHERE tenant_id = $1 AND message_id = $2`, tenantID, messageID).Scan(&n)
	return n > 0, err
}

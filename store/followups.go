package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley"
)

// This file holds follow-ups: rules, their per-session decisions and the
// due-time index. Every query taking a tenant id is scoped by it.

const ruleCols = `id, tenant_id, title, message, generate, delay, reply_window, survey, channel_ids, template, active, created_at, updated_at, send_as_written`

func scanRule(row interface{ Scan(...any) error }) (parley.FollowUpRule, error) {
	var r parley.FollowUpRule
	var delay, window, created, updated int64
	var channels string
	var template sql.NullString
	if err := row.Scan(&r.ID, &r.TenantID, &r.Title, &r.Message, &r.Generate, &delay, &window, &r.Survey, &channels, &template, &r.Active, &created, &updated, &r.SendAsWritten); err != nil {
		return r, err
	}
	r.Delay, r.ReplyWindow = time.Duration(delay)*time.Microsecond, time.Duration(window)*time.Microsecond
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	if err := decodeJSON(channels, &r.ChannelIDs); err != nil {
		return r, err
	}
	if r.ChannelIDs == nil {
		r.ChannelIDs = []string{}
	}
	if template.Valid {
		r.Template = &parley.Template{}
		if err := decodeJSON(template.String, r.Template); err != nil {
			return r, err
		}
	}
	return r, nil
}

func ruleArgs(r parley.FollowUpRule) []any {
	var template sql.NullString
	if r.Template != nil {
		template = sql.NullString{String: encodeJSON(r.Template), Valid: true}
	}
	if r.ChannelIDs == nil {
		r.ChannelIDs = []string{}
	}
	return []any{r.ID, r.TenantID, r.Title, r.Message, r.Generate, r.Delay.Microseconds(), r.ReplyWindow.Microseconds(), r.Survey,
		encodeJSON(r.ChannelIDs), template, r.Active, micros(r.CreatedAt), micros(r.UpdatedAt), r.SendAsWritten}
}

// CreateFollowUpRule stores a rule; ID and times are set here.
func (q *Queries) CreateFollowUpRule(ctx context.Context, r parley.FollowUpRule) (parley.FollowUpRule, error) {
	now := q.clock.Now()
	r.ID, r.CreatedAt, r.UpdatedAt = newID(), now, now
	if r.ChannelIDs == nil {
		r.ChannelIDs = []string{}
	}
	if _, err := q.q.ExecContext(ctx, `INSERT INTO followup_rules (`+ruleCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`, ruleArgs(r)...); err != nil {
		return r, fmt.Errorf("create follow-up rule: %w", err)
	}
	return r, nil
}

// GetFollowUpRule returns one of the tenant's rules.
func (q *Queries) GetFollowUpRule(ctx context.Context, tenantID, id string) (parley.FollowUpRule, error) {
	r, err := scanRule(q.q.QueryRowContext(ctx, `SELECT `+ruleCols+` FROM followup_rules WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return r, rowErr(err, "follow-up rule")
}

// ListFollowUpRules pages through the tenant's rules.
func (q *Queries) ListFollowUpRules(ctx context.Context, tenantID string, p Page) ([]parley.FollowUpRule, string, error) {
	return list(ctx, q, p, scanRule, func(r parley.FollowUpRule) string { return r.ID },
		`SELECT `+ruleCols+` FROM followup_rules WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID)
}

// ActiveFollowUpRules lists the tenant's active rules, shortest delay first.
func (q *Queries) ActiveFollowUpRules(ctx context.Context, tenantID string) ([]parley.FollowUpRule, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+ruleCols+` FROM followup_rules WHERE tenant_id = $1 AND active ORDER BY delay, id`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []parley.FollowUpRule
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// UpdateFollowUpRule saves a rule's changeable fields.
func (q *Queries) UpdateFollowUpRule(ctx context.Context, r parley.FollowUpRule) (parley.FollowUpRule, error) {
	r.UpdatedAt = q.clock.Now()
	a := ruleArgs(r)
	a = append(a[:11], a[12:]...) // every column but created_at
	res, err := q.q.ExecContext(ctx, `UPDATE followup_rules SET title = $3, message = $4, generate = $5, delay = $6, reply_window = $7, survey = $8,
		channel_ids = $9, template = $10, active = $11, updated_at = $12, send_as_written = $13 WHERE id = $1 AND tenant_id = $2`, a...)
	return r, affected(res, err, "follow-up rule")
}

// DeleteFollowUpRule removes a rule and its history.
func (q *Queries) DeleteFollowUpRule(ctx context.Context, tenantID, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM followup_rules WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return affected(res, err, "follow-up rule")
}

// ConversationByID finds a conversation by id alone, for jobs whose payload
// names only the conversation (Follow-Up Request).
func (q *Queries) ConversationByID(ctx context.Context, id string) (parley.Conversation, error) {
	c, err := scanConversation(q.q.QueryRowContext(ctx, `SELECT `+conversationCols+` FROM conversations WHERE id = $1`, id))
	return c, rowErr(err, "conversation")
}

// AgentSend is how the conversation's latest agent (AI or human) message
// went out: what a follow-up clock starts from.
type AgentSend struct {
	Status   parley.DeliveryStatus
	QueuedAt time.Time
	// SentAt is when the attempt that reached the provider began (its
	// send mark); nil when no attempt has called the provider.
	SentAt *time.Time
}

// LastAgentSend returns the delivery of the conversation's latest agent
// message; CodeNotFound when no agent has written.
func (q *Queries) LastAgentSend(ctx context.Context, tenantID, conversationID string) (AgentSend, error) {
	var a AgentSend
	var queued int64
	var sent sql.NullInt64
	err := q.q.QueryRowContext(ctx, `SELECT status, created_at, send_started_at FROM messages
		WHERE tenant_id = $1 AND conversation_id = $2 AND role IN ($3, $4) ORDER BY created_at DESC, id DESC LIMIT 1`,
		tenantID, conversationID, parley.RoleAI, parley.RoleAgent).Scan(&a.Status, &queued, &sent)
	if err != nil {
		return a, rowErr(err, "agent message")
	}
	a.QueuedAt, a.SentAt = fromMicros(queued), fromNullMicros(sent)
	return a, nil
}

// HoldSilentConversation locks the conversation's row for the rest of the
// transaction if it is still as the caller saw it: the last message is the
// agent's, sent at lastAgent. It reports false when the customer has written
// or another agent message moved the clock since.
func (q *Queries) HoldSilentConversation(ctx context.Context, tenantID, id string, lastAgent time.Time) (bool, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE conversations SET updated_at = updated_at
		WHERE tenant_id = $1 AND id = $2 AND last_agent_message_at = $3
		AND (last_customer_message_at IS NULL OR last_customer_message_at <= last_agent_message_at)`, tenantID, id, micros(lastAgent))
	if err != nil {
		return false, fmt.Errorf("hold conversation: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

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

// FollowUpRuleStats counts a rule's decisions, replies and survey answers.
func (q *Queries) FollowUpRuleStats(ctx context.Context, tenantID, ruleID string) (FollowUpStats, error) {
	st := FollowUpStats{Skipped: map[string]int64{}, Answers: map[string]int64{}}
	rows, err := q.q.QueryContext(ctx, `SELECT outcome, reason, COUNT(*), COUNT(replied_at) FROM followups
		WHERE tenant_id = $1 AND rule_id = $2 GROUP BY outcome, reason`, tenantID, ruleID)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var outcome, reason string
		var n, replied int64
		if err := rows.Scan(&outcome, &reason, &n, &replied); err != nil {
			rows.Close()
			return st, err
		}
		if outcome == parley.FollowUpSent {
			st.Sent += n
			st.Replied += replied
		} else {
			st.Skipped[reason] += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}
	rows, err = q.q.QueryContext(ctx, `SELECT answer, COUNT(*), SUM(score), COUNT(score) FROM followups
		WHERE tenant_id = $1 AND rule_id = $2 AND answer IS NOT NULL GROUP BY answer`, tenantID, ruleID)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	var sum, scored int64
	for rows.Next() {
		var answer string
		var n, scores int64
		var total sql.NullInt64
		if err := rows.Scan(&answer, &n, &total, &scores); err != nil {
			return st, err
		}
		st.Answers[answer] = n
		sum += total.Int64
		scored += scores
	}
	if st.Sent > 0 {
		st.ResponseRate = float64(st.Replied) / float64(st.Sent)
	}
	if scored > 0 {
		avg := float64(sum) / float64(scored)
		st.AverageScore = &avg
	}
	return st, rows.Err()
}

// SetFollowUpDue records when the conversation's next follow-up falls due.
func (q *Queries) SetFollowUpDue(ctx context.Context, tenantID, conversationID string, at time.Time) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO followup_due (conversation_id, tenant_id, due_at) VALUES ($1, $2, $3)
		ON CONFLICT (conversation_id) DO UPDATE SET due_at = excluded.due_at, swept_at = NULL`, conversationID, tenantID, micros(at))
	if err != nil {
		return fmt.Errorf("set follow-up due: %w", err)
	}
	return nil
}

// ClearFollowUpDue forgets the conversation's due time: nothing is pending.
func (q *Queries) ClearFollowUpDue(ctx context.Context, conversationID string) error {
	_, err := q.q.ExecContext(ctx, `DELETE FROM followup_due WHERE conversation_id = $1`, conversationID)
	return err
}

// FollowUpDue returns the conversation's due time, nil when none is pending.
func (q *Queries) FollowUpDue(ctx context.Context, conversationID string) (*time.Time, error) {
	var at int64
	err := q.q.QueryRowContext(ctx, `SELECT due_at FROM followup_due WHERE conversation_id = $1`, conversationID).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	t := fromMicros(at)
	return &t, nil
}

// SweepFollowUpDue takes up to limit conversations due at or before dueBy
// that no sweep has handed out since sweptBefore, marks them swept at now,
// and returns their ids. It reads the due-time index only.
func (q *Queries) SweepFollowUpDue(ctx context.Context, dueBy, sweptBefore, now time.Time, limit int) ([]string, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT conversation_id FROM followup_due
		WHERE due_at <= $1 AND (swept_at IS NULL OR swept_at <= $2) ORDER BY due_at LIMIT $3`, micros(dueBy), micros(sweptBefore), limit)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for start := 0; start < len(ids); start += 500 {
		batch := ids[start:min(start+500, len(ids))]
		args := []any{micros(now)}
		marks := make([]string, len(batch))
		for i, id := range batch {
			args = append(args, id)
			marks[i] = "$" + strconv.Itoa(i+2)
		}
		if _, err := q.q.ExecContext(ctx, `UPDATE followup_due SET swept_at = $1 WHERE conversation_id IN (`+strings.Join(marks, ", ")+`)`, args...); err != nil {
			return nil, fmt.Errorf("mark swept: %w", err)
		}
	}
	return ids, nil
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

// SilentConversations pages through the conversations on channelID that
// rule ruleID may still follow up (see silentWhere), by when the agent last
// wrote; after is the previous page's last item (zero for the first page).
func (q *Queries) SilentConversations(ctx context.Context, tenantID, ruleID, channelID string, after SilentConversation, limit int) ([]SilentConversation, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT c.id, c.last_agent_message_at FROM conversations c
		WHERE `+silentWhere+` AND c.channel_id = $3 AND (c.last_agent_message_at > $4 OR (c.last_agent_message_at = $4 AND c.id > $5))
		ORDER BY c.last_agent_message_at, c.id LIMIT $6`, tenantID, ruleID, channelID, micros(after.LastAgentAt), after.ID, limit)
	if err != nil {
		return nil, fmt.Errorf("silent conversations: %w", err)
	}
	defer rows.Close()
	var out []SilentConversation
	for rows.Next() {
		var s SilentConversation
		var at int64
		if err := rows.Scan(&s.ID, &at); err != nil {
			return nil, err
		}
		s.LastAgentAt = fromMicros(at)
		out = append(out, s)
	}
	return out, rows.Err()
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

// RuleReach counts rule r's preview at now and the conversations it reached.
func (q *Queries) RuleReach(ctx context.Context, r parley.FollowUpRule, now time.Time) (FollowUpReach, error) {
	var out FollowUpReach
	args := []any{r.TenantID, r.ID, micros(now.Add(-r.Delay))}
	channels := ""
	if len(r.ChannelIDs) > 0 {
		marks := make([]string, len(r.ChannelIDs))
		for i, id := range r.ChannelIDs {
			args = append(args, id)
			marks[i] = "$" + strconv.Itoa(len(args))
		}
		channels = ` AND c.channel_id IN (` + strings.Join(marks, ", ") + `)`
	}
	if err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM conversations c
		WHERE `+silentWhere+` AND c.last_agent_message_at <= $3`+channels, args...).Scan(&out.WouldReachNow); err != nil {
		return out, fmt.Errorf("follow-up rule preview: %w", err)
	}
	if err := q.q.QueryRowContext(ctx, `SELECT COUNT(DISTINCT conversation_id) FROM followups WHERE rule_id = $1 AND outcome = 'sent' AND tenant_id = $2`,
		r.ID, r.TenantID).Scan(&out.Reached); err != nil {
		return out, fmt.Errorf("follow-up rule reach: %w", err)
	}
	return out, nil
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

// AdvanceFollowUpDue records that the conversation's next follow-up falls
// due at `at` unless one already falls due earlier. It reports whether the
// due time moved (or was set).
func (q *Queries) AdvanceFollowUpDue(ctx context.Context, tenantID, conversationID string, at time.Time) (bool, error) {
	res, err := q.q.ExecContext(ctx, `INSERT INTO followup_due (conversation_id, tenant_id, due_at) VALUES ($1, $2, $3)
		ON CONFLICT (conversation_id) DO UPDATE SET due_at = excluded.due_at, swept_at = NULL WHERE followup_due.due_at > excluded.due_at`,
		conversationID, tenantID, micros(at))
	if err != nil {
		return false, fmt.Errorf("advance follow-up due: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

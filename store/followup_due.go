package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

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

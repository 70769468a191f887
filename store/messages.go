package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley"
)

const messageCols = `id, tenant_id, conversation_id, role, type, content, channel_id, channel_message_id, status, error_code, error_reason, template, extra, created_at`

func scanMessage(row interface{ Scan(...any) error }) (parley.Message, error) {
	var m parley.Message
	var channelID, channelMsgID, template, extra sql.NullString
	var created int64
	if err := row.Scan(&m.ID, &m.TenantID, &m.ConversationID, &m.Role, &m.Type, &m.Content, &channelID, &channelMsgID, &m.Status,
		&m.ErrorCode, &m.ErrorReason, &template, &extra, &created); err != nil {
		return m, err
	}
	m.ChannelID, m.ChannelMessageID, m.CreatedAt = channelID.String, channelMsgID.String, fromMicros(created)
	if template.Valid {
		m.Template = &parley.Template{}
		if err := decodeJSON(template.String, m.Template); err != nil {
			return m, err
		}
	}
	if extra.Valid {
		if err := decodeJSON(extra.String, &m.Extra); err != nil {
			return m, err
		}
	}
	return m, nil
}

// ErrDuplicate is returned when a provider message id was already stored.
var ErrDuplicate = errors.New("duplicate message")

// InsertMessage stores a message. A channel message id already stored for
// the channel gives ErrDuplicate and changes nothing.
func (q *Queries) InsertMessage(ctx context.Context, m parley.Message) (parley.Message, error) {
	m.ID = newID()
	if m.CreatedAt.IsZero() {
		m.CreatedAt = q.clock.Now()
	}
	if m.Type == "" {
		m.Type = parley.MessageText
	}
	var template, extra sql.NullString
	if m.Template != nil {
		template = sql.NullString{String: encodeJSON(m.Template), Valid: true}
	}
	if m.Extra != nil {
		extra = sql.NullString{String: encodeJSON(m.Extra), Valid: true}
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO messages (`+messageCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		m.ID, m.TenantID, m.ConversationID, m.Role, m.Type, m.Content, nullString(m.ChannelID), nullString(m.ChannelMessageID), m.Status,
		m.ErrorCode, m.ErrorReason, template, extra, micros(m.CreatedAt))
	if isUniqueViolation(err) {
		return m, ErrDuplicate
	}
	if err != nil {
		return m, fmt.Errorf("insert message: %w", err)
	}
	return m, nil
}

// GetMessage returns one of the tenant's messages.
func (q *Queries) GetMessage(ctx context.Context, tenantID, id string) (parley.Message, error) {
	m, err := scanMessage(q.q.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return m, rowErr(err, "message")
}

// MessageByChannelID finds a message by its provider id on a channel.
func (q *Queries) MessageByChannelID(ctx context.Context, channelID, channelMessageID string) (parley.Message, error) {
	m, err := scanMessage(q.q.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE channel_id = $1 AND channel_message_id = $2`, channelID, channelMessageID))
	return m, rowErr(err, "message")
}

// ListMessages pages through a conversation's messages, oldest first.
func (q *Queries) ListMessages(ctx context.Context, tenantID, conversationID string, p Page) ([]parley.Message, string, error) {
	return list(ctx, q, p, scanMessage, func(m parley.Message) string { return m.ID },
		`SELECT `+messageCols+` FROM messages WHERE tenant_id = $1 AND conversation_id = $4 AND id > $2 ORDER BY id LIMIT $3`, tenantID, conversationID)
}

// RecentMessages returns the conversation's last n messages, oldest first.
func (q *Queries) RecentMessages(ctx context.Context, tenantID, conversationID string, n int) ([]parley.Message, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+messageCols+` FROM messages WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY id DESC LIMIT $3`,
		tenantID, conversationID, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []parley.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, rows.Err()
}

// MessageUpdate is what a send attempt or a status receipt learned.
type MessageUpdate struct {
	ChannelMessageID string // set once the provider accepted the message
	Status           parley.DeliveryStatus
	ErrorCode        string
	ErrorReason      string
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

// statusRankSQL is parley.DeliveryStatus.Rank as SQL over the status column.
var statusRankSQL = func() string {
	var b strings.Builder
	b.WriteString("CASE status")
	for _, s := range []parley.DeliveryStatus{parley.StatusQueued, parley.StatusSent, parley.StatusDelivered, parley.StatusRead, parley.StatusFailed} {
		fmt.Fprintf(&b, " WHEN '%s' THEN %d", s, s.Rank())
	}
	b.WriteString(" ELSE 0 END")
	return b.String()
}()

// AdvanceMessageDelivery moves a message's delivery status forward (statuses
// arrive out of order; see parley.DeliveryStatus.Rank) in one conditional
// UPDATE, so that two receipts applied at the same time (PostgreSQL
// replicas, or a status racing the send job) can never move a message
// backwards: the rank comparison happens on the row the UPDATE locks.
// A provider id is recorded when the message has none, whatever the status
// does. It reports whether the status changed.
func (q *Queries) AdvanceMessageDelivery(ctx context.Context, tenantID, id string, u MessageUpdate) (bool, error) {
	if u.ChannelMessageID != "" {
		if _, err := q.q.ExecContext(ctx, `UPDATE messages SET channel_message_id = $3
			WHERE tenant_id = $1 AND id = $2 AND channel_message_id IS NULL`, tenantID, id, u.ChannelMessageID); err != nil {
			return false, fmt.Errorf("record provider message id: %w", err)
		}
	}
	if u.Status == "" {
		return false, nil
	}
	res, err := q.q.ExecContext(ctx, `UPDATE messages SET status = $3, error_code = $4, error_reason = $5
		WHERE tenant_id = $1 AND id = $2 AND `+statusRankSQL+` < $6`,
		tenantID, id, u.Status, u.ErrorCode, u.ErrorReason, u.Status.Rank())
	if err != nil {
		return false, fmt.Errorf("advance message delivery: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// UnreadBefore lists a conversation's sent or delivered outbound messages
// older than the message id before (ids are time-ordered), oldest first, at
// most 100: a read receipt that means "read up to here" (Instagram) moves
// them to read too.
func (q *Queries) UnreadBefore(ctx context.Context, tenantID, conversationID, before string) ([]parley.Message, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+messageCols+` FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND id < $3
		AND role IN ('ai', 'agent') AND status IN ('sent', 'delivered') ORDER BY id LIMIT 100`, tenantID, conversationID, before)
	if err != nil {
		return nil, fmt.Errorf("unread messages: %w", err)
	}
	defer rows.Close()
	var out []parley.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("unread messages: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// SetMessageExtra replaces a message's Extra (e.g. to mark it deleted by
// its sender).
func (q *Queries) SetMessageExtra(ctx context.Context, tenantID, id string, extra map[string]any) error {
	res, err := q.q.ExecContext(ctx, `UPDATE messages SET extra = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, id, encodeJSON(extra))
	return affected(res, err, "message")
}

// LatestCustomerMessage returns the conversation's newest message from the
// contact, or a not-found error.
func (q *Queries) LatestCustomerMessage(ctx context.Context, tenantID, conversationID string) (parley.Message, error) {
	m, err := scanMessage(q.q.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND role = 'customer'
		ORDER BY id DESC LIMIT 1`, tenantID, conversationID))
	return m, rowErr(err, "customer message")
}

// LastMessages returns the latest message of each of the tenant's
// conversations named, keyed by conversation id. Conversations without
// messages are absent.
func (q *Queries) LastMessages(ctx context.Context, tenantID string, conversationIDs []string) (map[string]parley.Message, error) {
	out := map[string]parley.Message{}
	if len(conversationIDs) == 0 {
		return out, nil
	}
	// Message ids are time-ordered, so the greatest id is the latest.
	rows, err := q.q.QueryContext(ctx, `SELECT `+messageCols+` FROM messages m WHERE m.tenant_id = $1 AND m.conversation_id IN (`+inList(2, len(conversationIDs))+`)
		AND m.id = (SELECT MAX(l.id) FROM messages l WHERE l.conversation_id = m.conversation_id)`, idArgs(tenantID, conversationIDs)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out[m.ConversationID] = m
	}
	return out, rows.Err()
}

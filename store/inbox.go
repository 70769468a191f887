package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley"
)

// InboxMessage is an inbound message as its provider delivered it, kept
// before (and after) the conversation flow takes it. See migration 0010.
type InboxMessage struct {
	ID                string
	TenantID          string
	ChannelID         string
	ProviderMessageID string // the wamid or MessageSid: the dedupe key with ChannelID
	Sender            string // the sender's address as the provider gave it (digits, whatsapp:+…)
	ContactName       string
	Type              parley.MessageType
	Content           string
	Extra             map[string]any
	SentAt            time.Time // when the provider says the contact sent it
	ReceivedAt        time.Time
	ProcessedAt       *time.Time
	Outcome           string // what the flow did with it: "received", "duplicate", "skipped: …"
	// Attempts counts the receive stage's claims of it (ClaimInbox only).
	Attempts int
}

const inboxCols = `id, tenant_id, channel_id, provider_message_id, sender, contact_name, type, content, extra,
	sent_at, received_at, processed_at, outcome`

func scanInbox(row interface{ Scan(...any) error }) (InboxMessage, error) {
	var m InboxMessage
	var extra sql.NullString
	var sent, received int64
	var processed sql.NullInt64
	if err := row.Scan(&m.ID, &m.TenantID, &m.ChannelID, &m.ProviderMessageID, &m.Sender, &m.ContactName, &m.Type, &m.Content, &extra,
		&sent, &received, &processed, &m.Outcome); err != nil {
		return m, err
	}
	m.SentAt, m.ReceivedAt, m.ProcessedAt = fromMicros(sent), fromMicros(received), fromNullMicros(processed)
	if extra.Valid {
		if err := decodeJSON(extra.String, &m.Extra); err != nil {
			return m, err
		}
	}
	return m, nil
}

// InsertInbox stores an inbound message unless the channel already has one
// with its provider id; it reports whether it inserted. It never fails on a
// duplicate, so it is safe inside a PostgreSQL transaction that must go on
// (a unique violation would abort the whole transaction there).
func (q *Queries) InsertInbox(ctx context.Context, m InboxMessage) (InboxMessage, bool, error) {
	m.ID = newID()
	m.ReceivedAt = q.clock.Now()
	if m.SentAt.IsZero() {
		m.SentAt = m.ReceivedAt
	}
	var extra sql.NullString
	if m.Extra != nil {
		extra = sql.NullString{String: encodeJSON(m.Extra), Valid: true}
	}
	res, err := q.q.ExecContext(ctx, `INSERT INTO channel_inbox (`+inboxCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, '')
		ON CONFLICT (channel_id, provider_message_id) DO NOTHING`,
		m.ID, m.TenantID, m.ChannelID, m.ProviderMessageID, m.Sender, m.ContactName, m.Type, m.Content, extra,
		micros(m.SentAt), micros(m.ReceivedAt))
	if err != nil {
		return m, false, fmt.Errorf("insert inbox message: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return m, false, fmt.Errorf("insert inbox message: %w", err)
	}
	return m, n == 1, nil
}

// GetInbox returns one of the tenant's inbox messages.
func (q *Queries) GetInbox(ctx context.Context, tenantID, id string) (InboxMessage, error) {
	m, err := scanInbox(q.q.QueryRowContext(ctx, `SELECT `+inboxCols+` FROM channel_inbox WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return m, rowErr(err, "inbox message")
}

// InboxByChannel lists a channel's inbox messages in arrival order (for
// tests and inspection; the flow reads them one by one with GetInbox).
func (q *Queries) InboxByChannel(ctx context.Context, tenantID, channelID string) ([]InboxMessage, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+inboxCols+` FROM channel_inbox WHERE tenant_id = $1 AND channel_id = $2 ORDER BY id`, tenantID, channelID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []InboxMessage
	for rows.Next() {
		m, err := scanInbox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// MarkInboxProcessed records what the flow did with an inbox message. It
// reports false when the message was already processed, so a retried job
// does its work once.
func (q *Queries) MarkInboxProcessed(ctx context.Context, tenantID, id, outcome string) (bool, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE channel_inbox SET processed_at = $3, outcome = $4
		WHERE tenant_id = $1 AND id = $2 AND processed_at IS NULL`, tenantID, id, micros(q.clock.Now()), outcome)
	if err != nil {
		return false, fmt.Errorf("mark inbox processed: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// PruneInbox deletes processed inbox messages received before cutoff and
// reports how many. Providers redeliver for up to 7 days; after that the
// messages table's own unique key still catches a late duplicate.
func (q *Queries) PruneInbox(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := q.q.ExecContext(ctx, `DELETE FROM channel_inbox WHERE received_at < $1 AND processed_at IS NOT NULL`, micros(cutoff))
	if err != nil {
		return 0, fmt.Errorf("prune inbox: %w", err)
	}
	return res.RowsAffected()
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

// LockContact serializes the transactions that take a contact's messages
// into conversations, until the caller's transaction ends: two messages
// from one number worked at once would otherwise both try to open the
// contact's conversation. SQLite transactions are serialized already (one
// connection); PostgreSQL takes a transaction-scoped advisory lock.
func (q *Queries) LockContact(ctx context.Context, tenantID, phone string) error {
	if q.engine != Postgres {
		return nil
	}
	if q.tx == nil {
		return fmt.Errorf("lock contact: needs a transaction")
	}
	_, err := q.q.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "contact:"+tenantID+":"+phone)
	if err != nil {
		return fmt.Errorf("lock contact: %w", err)
	}
	return nil
}

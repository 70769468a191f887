package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
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

// inboxChunk bounds the rows of one multi-row insert (11 values each) well
// under both engines' limits on bound parameters.
const inboxChunk = 400

// InsertInboxMany stores many inbound messages in as few statements as it
// can, each unless its channel already has one with its provider id (also
// within ms). It returns the messages with their ids and, for each, whether
// it was inserted. Like InsertInbox it never fails on a duplicate.
func (q *Queries) InsertInboxMany(ctx context.Context, ms []InboxMessage) ([]InboxMessage, []bool, error) {
	inserted := make([]bool, len(ms))
	now := q.clock.Now()
	for start := 0; start < len(ms); start += inboxChunk {
		part := ms[start:min(start+inboxChunk, len(ms))]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO channel_inbox (id, tenant_id, channel_id, provider_message_id, sender, contact_name, type, content, extra,
			sent_at, received_at, processed_at, outcome) VALUES `)
		args := make([]any, 0, len(part)*11)
		byID := make(map[string]int, len(part))
		for i := range part {
			m := &part[i]
			m.ID, m.ReceivedAt = newID(), now
			if m.SentAt.IsZero() {
				m.SentAt = now
			}
			var extra any
			if m.Extra != nil {
				extra = encodeJSON(m.Extra)
			}
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(" + placeholders(len(args)+1, 11) + ", NULL, '')")
			args = append(args, m.ID, m.TenantID, m.ChannelID, m.ProviderMessageID, m.Sender, m.ContactName, m.Type, m.Content, extra,
				micros(m.SentAt), micros(m.ReceivedAt))
			byID[m.ID] = start + i
		}
		sb.WriteString(` ON CONFLICT (channel_id, provider_message_id) DO NOTHING RETURNING id`)
		rows, err := q.q.QueryContext(ctx, sb.String(), args...)
		if err != nil {
			return ms, inserted, fmt.Errorf("insert inbox messages: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return ms, inserted, fmt.Errorf("insert inbox messages: %w", err)
			}
			inserted[byID[id]] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return ms, inserted, fmt.Errorf("insert inbox messages: %w", err)
		}
	}
	return ms, inserted, nil
}

// ClaimInbox claims up to n unprocessed inbox messages whose lease is free
// or ran out, for lease, under claim; oldest first.
func (q *Queries) ClaimInbox(ctx context.Context, claim string, n int, lease time.Duration) ([]InboxMessage, error) {
	now := q.clock.Now()
	return q.updateInbox(ctx, `UPDATE channel_inbox SET lease_until = $1, claim = $2, attempts = attempts + 1
		WHERE id IN (SELECT id FROM channel_inbox WHERE processed_at IS NULL AND (lease_until IS NULL OR lease_until <= $3)
			ORDER BY id LIMIT $4`+q.skipLocked()+`)`, micros(now.Add(lease)), claim, micros(now), n)
}

// LeaseInbox claims, for lease under claim, those of ids that are still
// unprocessed and free: the receive stage's way to go through a failed
// batch one message at a time, each failure costing its message a lease.
func (q *Queries) LeaseInbox(ctx context.Context, claim string, ids []string, lease time.Duration) ([]InboxMessage, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	now := q.clock.Now()
	args := []any{micros(now.Add(lease)), claim, micros(now)}
	for _, id := range ids {
		args = append(args, id)
	}
	return q.updateInbox(ctx, `UPDATE channel_inbox SET lease_until = $1, claim = $2, attempts = attempts + 1
		WHERE processed_at IS NULL AND (lease_until IS NULL OR lease_until <= $3) AND id IN (`+placeholders(4, len(ids))+`)`, args...)
}

// TakeInbox takes up to n ready inbox messages (unprocessed, no lease or
// one that ran out), oldest first, and marks them processed (outcome
// "received") in the caller's transaction: claim and result in one
// statement and one commit. The rows stay locked until the commit
// (PostgreSQL: other processes skip them); a rollback, or a process that
// dies before committing, leaves them ready again at once.
func (q *Queries) TakeInbox(ctx context.Context, n int) ([]InboxMessage, error) {
	now := micros(q.clock.Now())
	return q.updateInbox(ctx, `UPDATE channel_inbox SET processed_at = $1, outcome = 'received', lease_until = NULL, attempts = attempts + 1
		WHERE id IN (SELECT id FROM channel_inbox WHERE processed_at IS NULL AND (lease_until IS NULL OR lease_until <= $1)
			ORDER BY id LIMIT $2`+q.skipLocked()+`)`, now, n)
}

// updateInbox runs an UPDATE of inbox rows and returns them, oldest first.
func (q *Queries) updateInbox(ctx context.Context, update string, args ...any) ([]InboxMessage, error) {
	rows, err := q.q.QueryContext(ctx, update+` RETURNING `+inboxCols+`, attempts`, args...)
	if err != nil {
		return nil, fmt.Errorf("claim inbox: %w", err)
	}
	defer rows.Close()
	var out []InboxMessage
	for rows.Next() {
		var m InboxMessage
		var extra *string
		var sent, received int64
		var processed *int64
		if err := rows.Scan(&m.ID, &m.TenantID, &m.ChannelID, &m.ProviderMessageID, &m.Sender, &m.ContactName, &m.Type, &m.Content, &extra,
			&sent, &received, &processed, &m.Outcome, &m.Attempts); err != nil {
			return nil, fmt.Errorf("claim inbox: %w", err)
		}
		m.SentAt, m.ReceivedAt = fromMicros(sent), fromMicros(received)
		if extra != nil {
			if err := decodeJSON(*extra, &m.Extra); err != nil {
				return nil, fmt.Errorf("claim inbox: %w", err)
			}
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim inbox: %w", err)
	}
	// RETURNING keeps no order: arrival order is what a conversation needs.
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// FinishInbox marks the claimed messages among ids processed (outcome
// "received"), in the caller's transaction, and returns those it marked: a
// message whose lease ran out and was claimed again is not this claim's
// to finish any more. The UPDATE locks the rows until the commit.
func (q *Queries) FinishInbox(ctx context.Context, claim string, ids []string) (map[string]bool, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := []any{micros(q.clock.Now()), claim}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := q.q.QueryContext(ctx, `UPDATE channel_inbox SET processed_at = $1, outcome = 'received', lease_until = NULL
		WHERE claim = $2 AND processed_at IS NULL AND id IN (`+placeholders(3, len(ids))+`) RETURNING id`, args...)
	if err != nil {
		return nil, fmt.Errorf("finish inbox: %w", err)
	}
	defer rows.Close()
	mine := make(map[string]bool, len(ids))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("finish inbox: %w", err)
		}
		mine[id] = true
	}
	return mine, rows.Err()
}

// SetInboxOutcome records why a processed inbox message was not taken into
// a conversation.
func (q *Queries) SetInboxOutcome(ctx context.Context, id, outcome string) error {
	if _, err := q.q.ExecContext(ctx, `UPDATE channel_inbox SET outcome = $2 WHERE id = $1`, id, outcome); err != nil {
		return fmt.Errorf("set inbox outcome: %w", err)
	}
	return nil
}

// UnprocessedInbox counts inbox messages not yet taken in (tests, metrics).
func (q *Queries) UnprocessedInbox(ctx context.Context) (int, error) {
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM channel_inbox WHERE processed_at IS NULL`).Scan(&n)
	return n, err
}

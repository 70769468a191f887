package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/parleyhq/parley"
)

// SendMark is the send job's note that an attempt is calling the provider
// for a message. A mark left behind (the attempt's process died, its call
// timed out, or its commit failed) means the provider may have the message.
type SendMark struct {
	Attempt   string // who: the job and attempt, e.g. "42.1"
	StartedAt time.Time
}

// SendingMark returns the message's mark; ok is false when there is none.
func (q *Queries) SendingMark(ctx context.Context, tenantID, id string) (m SendMark, ok bool, err error) {
	var attempt sql.NullString
	var at sql.NullInt64
	err = q.q.QueryRowContext(ctx, `SELECT send_attempt, send_started_at FROM messages WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(&attempt, &at)
	if err != nil {
		return m, false, rowErr(err, "message")
	}
	if !attempt.Valid || !at.Valid {
		return m, false, nil
	}
	return SendMark{Attempt: attempt.String, StartedAt: fromMicros(at.Int64)}, true, nil
}

// MarkSending notes that attempt is about to call the provider, at the
// clock's now. It reports false, marking nothing, when the message is no
// longer queued or already has a provider id (a status webhook echoed it).
func (q *Queries) MarkSending(ctx context.Context, tenantID, id, attempt string) (bool, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE messages SET send_attempt = $3, send_started_at = $4
		WHERE tenant_id = $1 AND id = $2 AND status = $5 AND channel_message_id IS NULL`,
		tenantID, id, attempt, micros(q.clock.Now()), parley.StatusQueued)
	if err != nil {
		return false, fmt.Errorf("mark message sending: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ClearSending removes attempt's mark once the provider has answered that
// it did not take the message (a refusal, a rate limit): a retry then need
// not wait for a status. Another attempt's mark is left alone.
func (q *Queries) ClearSending(ctx context.Context, tenantID, id, attempt string) error {
	_, err := q.q.ExecContext(ctx, `UPDATE messages SET send_attempt = NULL, send_started_at = NULL
		WHERE tenant_id = $1 AND id = $2 AND send_attempt = $3`, tenantID, id, attempt)
	if err != nil {
		return fmt.Errorf("clear message sending mark: %w", err)
	}
	return nil
}

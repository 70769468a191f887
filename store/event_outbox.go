package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley"
)

// OutboxEvent is an event waiting in the outbox, with its place in line.
type OutboxEvent struct {
	Seq int64
	parley.Event
}

// PendingEvents returns up to limit events waiting to be published, oldest first.
func (q *Queries) PendingEvents(ctx context.Context, limit int) ([]OutboxEvent, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT o.seq, e.id, e.tenant_id, e.conversation_id, e.name, e.payload, e.created_at
		FROM event_outbox o JOIN conversation_events e ON e.id = o.event_id ORDER BY o.seq LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("pending events: %w", err)
	}
	defer rows.Close()
	var out []OutboxEvent
	for rows.Next() {
		var o OutboxEvent
		var seq int64
		ev, err := scanEvent(prefixScanner{rows, &seq})
		if err != nil {
			return nil, fmt.Errorf("pending events: %w", err)
		}
		o.Seq, o.Event = seq, ev
		out = append(out, o)
	}
	return out, rows.Err()
}

// prefixScanner scans a leading column into first, the rest as asked.
type prefixScanner struct {
	row   interface{ Scan(...any) error }
	first any
}

func (p prefixScanner) Scan(dest ...any) error { return p.row.Scan(append([]any{p.first}, dest...)...) }

// DeletePublishedEvents removes the outbox rows of events the bus has.
func (q *Queries) DeletePublishedEvents(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	ph := make([]string, len(seqs))
	args := make([]any, len(seqs))
	for i, s := range seqs {
		ph[i], args[i] = fmt.Sprintf("$%d", i+1), s
	}
	_, err := q.q.ExecContext(ctx, `DELETE FROM event_outbox WHERE seq IN (`+strings.Join(ph, ", ")+`)`, args...)
	if err != nil {
		return fmt.Errorf("delete published events: %w", err)
	}
	return nil
}

// EventBacklog counts the events waiting to be published.
func (q *Queries) EventBacklog(ctx context.Context) (int64, error) {
	var n int64
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM event_outbox`).Scan(&n)
	return n, err
}

// AcquireLease takes (or renews) the named lease for holder until now+ttl.
// It reports false while another holder's lease has not expired.
func (q *Queries) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := q.clock.Now()
	res, err := q.q.ExecContext(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at < $4`,
		name, holder, micros(now.Add(ttl)), micros(now))
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReleaseLease gives the named lease up if holder has it.
func (q *Queries) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := q.q.ExecContext(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder)
	return err
}

package store

import (
	"context"
	"fmt"
	"time"
)

// Named leases (the leases table) let one process at a time run a loop,
// such as the event publisher.

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

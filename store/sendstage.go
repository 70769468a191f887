package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley"
)

// SendClaim is one queued message a send loop holds under a lease.
type SendClaim struct {
	Message parley.Message
	// Attempts is how many attempts ended before this claim.
	Attempts int
	// MarkedAt, when set, is when an earlier holder called the provider and
	// no outcome was recorded: the provider may have the message.
	MarkedAt *time.Time
}

// ClaimSends takes up to n ready queued messages (due, no live lease, no
// provider id) in one statement, giving each the claim token and a lease
// until the clock's now plus lease. On PostgreSQL, concurrent claimers skip
// each other's rows; SQLite has one writer.
func (q *Queries) ClaimSends(ctx context.Context, token string, n int, lease time.Duration) ([]SendClaim, error) {
	now := q.clock.Now()
	lock := ""
	if q.engine == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	rows, err := q.q.QueryContext(ctx, `UPDATE messages SET send_attempt = $1, send_lease_until = $2
		WHERE id IN (SELECT id FROM messages
			WHERE status = 'queued' AND channel_message_id IS NULL AND send_next_at <= $3
			AND (send_lease_until IS NULL OR send_lease_until <= $3)
			ORDER BY send_next_at LIMIT $4`+lock+`)
		RETURNING `+messageCols+`, send_started_at, send_attempts`,
		token, micros(now.Add(lease)), micros(now), n)
	if err != nil {
		return nil, fmt.Errorf("claim messages to send: %w", err)
	}
	defer rows.Close()
	var out []SendClaim
	for rows.Next() {
		var c SendClaim
		var marked sql.NullInt64
		m, err := scanMessage(scanTail{rows, []any{&marked, &c.Attempts}})
		if err != nil {
			return nil, fmt.Errorf("claim messages to send: %w", err)
		}
		c.Message = m
		if marked.Valid {
			t := fromMicros(marked.Int64)
			c.MarkedAt = &t
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// scanTail scans a message row followed by more columns.
type scanTail struct {
	rows interface{ Scan(...any) error }
	more []any
}

func (s scanTail) Scan(dest ...any) error { return s.rows.Scan(append(dest, s.more...)...) }

// MarkSends is the compare-and-swap before the provider calls: it marks
// ids as being sent now, only where token still holds a live lease and the
// message is still unsent, and returns the ids it marked. A holder whose
// lease ran out or was taken over marks nothing and must not send.
func (q *Queries) MarkSends(ctx context.Context, token string, ids []string) (map[string]bool, error) {
	marked := map[string]bool{}
	if len(ids) == 0 {
		return marked, nil
	}
	now := micros(q.clock.Now())
	args := []any{token, now}
	rows, err := q.q.QueryContext(ctx, `UPDATE messages SET send_started_at = $2
		WHERE send_attempt = $1 AND send_lease_until > $2 AND status = 'queued' AND channel_message_id IS NULL
		AND id IN (`+sendPlaceholders(&args, ids)+`) RETURNING id`, args...)
	if err != nil {
		return nil, fmt.Errorf("mark messages sending: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("mark messages sending: %w", err)
		}
		marked[id] = true
	}
	return marked, rows.Err()
}

// sendPlaceholders appends vals to args and returns their $n list.
func sendPlaceholders(args *[]any, vals []string) string {
	var b strings.Builder
	for i, v := range vals {
		if i > 0 {
			b.WriteString(", ")
		}
		*args = append(*args, v)
		fmt.Fprintf(&b, "$%d", len(*args))
	}
	return b.String()
}

// TemplateRoom is a tenant's template budget this month: Left sends remain
// (Limited false: no budget), Used and Limit as counted.
type TemplateRoom struct {
	Limited     bool
	Used, Limit int64
}

// TemplateRooms reads the template budgets of tenants for the month of the
// clock's now, in one statement. Tenants without a budget are absent.
func (q *Queries) TemplateRooms(ctx context.Context, tenantIDs []string) (map[string]TemplateRoom, string, error) {
	month := Month(q.clock.Now())
	out := map[string]TemplateRoom{}
	if len(tenantIDs) == 0 {
		return out, month, nil
	}
	args := []any{month}
	rows, err := q.q.QueryContext(ctx, `SELECT b.tenant_id, b.template_sends, COALESCE(u.template_sends, 0)
		FROM tenant_budgets b LEFT JOIN tenant_usage u ON u.tenant_id = b.tenant_id AND u.month = $1
		WHERE b.template_sends > 0 AND b.tenant_id IN (`+sendPlaceholders(&args, tenantIDs)+`)`, args...)
	if err != nil {
		return nil, month, fmt.Errorf("load template budgets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		r := TemplateRoom{Limited: true}
		if err := rows.Scan(&id, &r.Limit, &r.Used); err != nil {
			return nil, month, fmt.Errorf("load template budgets: %w", err)
		}
		out[id] = r
	}
	return out, month, rows.Err()
}

// SendOutcome is what a claim's holder records for one message.
type SendOutcome struct {
	TenantID, ID string
	// Sent: the provider took it with this id.
	ProviderID string
	// Failed: the message fails for good with this code and reason.
	Failed            bool
	ErrorCode, Reason string
	// Otherwise the message is ready again at NextAt; Counted adds an
	// attempt and ClearMark removes the send mark (the provider said no).
	NextAt    time.Time
	Counted   bool
	ClearMark bool
}

// RecordSend records one outcome in q's transaction and reports whether it
// changed the message. A provider id is recorded wherever the message has
// none yet, whoever holds it now: the provider has the message, and
// recording that can only prevent a second send. Every other outcome is
// recorded only where token still holds the claim.
func (q *Queries) RecordSend(ctx context.Context, token string, o SendOutcome) (bool, error) {
	var res sql.Result
	var err error
	switch {
	case o.ProviderID != "":
		res, err = q.q.ExecContext(ctx, `UPDATE messages SET channel_message_id = $3,
			status = CASE WHEN `+statusRankSQL+` < $4 THEN 'sent' ELSE status END,
			send_lease_until = NULL, send_attempts = send_attempts + 1
			WHERE tenant_id = $1 AND id = $2 AND channel_message_id IS NULL`,
			o.TenantID, o.ID, o.ProviderID, parley.StatusSent.Rank())
	case o.Failed:
		res, err = q.q.ExecContext(ctx, `UPDATE messages SET status = 'failed', error_code = $4, error_reason = $5,
			send_lease_until = NULL, send_attempts = send_attempts + $6
			WHERE tenant_id = $1 AND id = $2 AND send_attempt = $3 AND status = 'queued' AND channel_message_id IS NULL`,
			o.TenantID, o.ID, token, o.ErrorCode, o.Reason, b2i(o.Counted))
	default:
		res, err = q.q.ExecContext(ctx, `UPDATE messages SET send_next_at = $4, send_lease_until = NULL,
			send_attempts = send_attempts + $5,
			send_started_at = CASE WHEN $6 = 1 THEN NULL ELSE send_started_at END
			WHERE tenant_id = $1 AND id = $2 AND send_attempt = $3 AND status = 'queued' AND channel_message_id IS NULL`,
			o.TenantID, o.ID, token, micros(o.NextAt), b2i(o.Counted), b2i(o.ClearMark))
	}
	if err != nil {
		return false, fmt.Errorf("record send outcome: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

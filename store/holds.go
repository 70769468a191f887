package store

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// A held message came for a WhatsApp number that no tenant has yet shown
// it owns (see migration 0130). It waits, unrouted, with no tenant, until a
// claim's ownership check succeeds.

// HoldInbox keeps m for the number; false when Meta redelivered one already held.
func (q *Queries) HoldInbox(ctx context.Context, phoneNumberID string, m InboxMessage) (bool, error) {
	now := q.clock.Now()
	if m.SentAt.IsZero() {
		m.SentAt = now
	}
	m.TenantID, m.ChannelID = "", ""
	res, err := q.q.ExecContext(ctx, `INSERT INTO number_holds (id, phone_number_id, provider_message_id, message, received_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (phone_number_id, provider_message_id) DO NOTHING`,
		newID(), phoneNumberID, m.ProviderMessageID, encodeJSON(m), micros(now))
	if err != nil {
		return false, fmt.Errorf("hold inbox message: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("hold inbox message: %w", err)
	}
	return n == 1, nil
}

// TakeHeld removes and returns the messages held for a number, oldest
// first, for the caller to put in the verified channel's inbox in the same
// transaction.
func (q *Queries) TakeHeld(ctx context.Context, phoneNumberID string) ([]InboxMessage, error) {
	rows, err := q.q.QueryContext(ctx, `DELETE FROM number_holds WHERE phone_number_id = $1 RETURNING message, received_at`, phoneNumberID)
	if err != nil {
		return nil, fmt.Errorf("take held messages: %w", err)
	}
	defer rows.Close()
	type held struct {
		m  InboxMessage
		at int64
	}
	var hs []held
	for rows.Next() {
		var raw string
		var at int64
		if err := rows.Scan(&raw, &at); err != nil {
			return nil, fmt.Errorf("take held messages: %w", err)
		}
		var m InboxMessage
		if err := decodeJSON(raw, &m); err != nil {
			return nil, fmt.Errorf("take held messages: %w", err)
		}
		hs = append(hs, held{m, at})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// RETURNING has no ORDER BY; the flow wants the contact's order.
	sort.SliceStable(hs, func(i, j int) bool { return hs[i].at < hs[j].at })
	out := make([]InboxMessage, len(hs))
	for i, h := range hs {
		out[i] = h.m
	}
	return out, nil
}

// PruneHeld drops messages held since before cutoff; no tenant proved it
// owned their number in time. It returns how many went.
func (q *Queries) PruneHeld(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := q.q.ExecContext(ctx, `DELETE FROM number_holds WHERE received_at < $1`, micros(cutoff))
	if err != nil {
		return 0, fmt.Errorf("prune held messages: %w", err)
	}
	return res.RowsAffected()
}

// HeldNumbers lists the numbers that have messages held.
func (q *Queries) HeldNumbers(ctx context.Context) ([]string, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT DISTINCT phone_number_id FROM number_holds`)
	if err != nil {
		return nil, fmt.Errorf("held numbers: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("held numbers: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

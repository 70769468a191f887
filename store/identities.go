package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/parleyhq/parley"
)

// This file holds a customer's linked contact addresses: an Instagram
// contact ("ig:<IGSID>") joined to a customer known by phone.

// CustomerIdentities lists the addresses linked to a customer, oldest first.
func (q *Queries) CustomerIdentities(ctx context.Context, tenantID, customerID string) ([]string, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT address FROM customer_identities WHERE tenant_id = $1 AND customer_id = $2
		ORDER BY created_at, address`, tenantID, customerID)
	if err != nil {
		return nil, fmt.Errorf("customer identities: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("customer identities: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// LinkIdentity makes address one of customerID's: the address's messages
// are then this customer's. A customer record whose own address it was (an
// Instagram-only customer) is merged in: its conversations and linked
// addresses move over and the record is removed. An address linked to
// another customer is a conflict; linking a customer's own address is a
// no-op. The conversations with that address get the customer.
func (q *Queries) LinkIdentity(ctx context.Context, tenantID, customerID, address string) error {
	target, err := q.GetCustomer(ctx, tenantID, customerID)
	if err != nil {
		return err
	}
	if target.Phone == address {
		return nil
	}
	var owner string
	err = q.q.QueryRowContext(ctx, `SELECT customer_id FROM customer_identities WHERE tenant_id = $1 AND address = $2`, tenantID, address).Scan(&owner)
	switch {
	case err == nil && owner == customerID:
		return nil
	case err == nil:
		return parley.Errorf(parley.CodeConflict, "%s is already linked to customer %s", address, owner)
	case rowErr(err, "identity") != nil && parley.ErrorCode(rowErr(err, "identity")) != parley.CodeNotFound:
		return fmt.Errorf("link identity: %w", err)
	}
	if other, err := q.CustomerByPhone(ctx, tenantID, address); err == nil && other.ID != customerID {
		if err := q.MergeCustomer(ctx, tenantID, customerID, other.ID); err != nil {
			return err
		}
		return nil
	} else if err != nil && parley.ErrorCode(err) != parley.CodeNotFound {
		return err
	}
	if _, err := q.q.ExecContext(ctx, `INSERT INTO customer_identities (tenant_id, address, customer_id, created_at) VALUES ($1, $2, $3, $4)`,
		tenantID, address, customerID, micros(q.clock.Now())); err != nil {
		return fmt.Errorf("link identity: %w", conflictOr(err, "this address is already linked"))
	}
	if _, err := q.q.ExecContext(ctx, `UPDATE conversations SET customer_id = $3 WHERE tenant_id = $1 AND contact_phone = $2 AND kind = 'customer'`,
		tenantID, address, customerID); err != nil {
		return fmt.Errorf("link identity: %w", err)
	}
	return nil
}

// MergeCustomer folds customer fromID, known only on Instagram, into intoID: fromID's own address and
// its linked ones become intoID's, its conversations move, and fromID is
// removed. Name, e-mail and language fill intoID's where it has none.
func (q *Queries) MergeCustomer(ctx context.Context, tenantID, intoID, fromID string) error {
	if intoID == fromID {
		return parley.FieldError("customer_id", "cannot link a customer to itself")
	}
	into, err := q.GetCustomer(ctx, tenantID, intoID)
	if err != nil {
		return err
	}
	from, err := q.GetCustomer(ctx, tenantID, fromID)
	if err != nil {
		return err
	}
	if _, ig := parley.InstagramID(from.Phone); !ig {
		// Linked addresses are looked up for Instagram contacts only (the
		// receive stage's one extra statement is for them).
		return parley.FieldError("customer_id", "only a customer known only on Instagram can be merged into another; link the other way round")
	}
	now := micros(q.clock.Now())
	stmts := []struct {
		sql  string
		args []any
	}{
		{`UPDATE customer_identities SET customer_id = $3 WHERE tenant_id = $1 AND customer_id = $2`, []any{tenantID, fromID, intoID}},
		{`UPDATE conversations SET customer_id = $3 WHERE tenant_id = $1 AND customer_id = $2`, []any{tenantID, fromID, intoID}},
		{`DELETE FROM customers WHERE tenant_id = $1 AND id = $2`, []any{tenantID, fromID}},
		{`INSERT INTO customer_identities (tenant_id, address, customer_id, created_at) VALUES ($1, $2, $3, $4)`, []any{tenantID, from.Phone, intoID, now}},
		{`UPDATE conversations SET customer_id = $3 WHERE tenant_id = $1 AND contact_phone = $2 AND kind = 'customer'`, []any{tenantID, from.Phone, intoID}},
	}
	for _, s := range stmts {
		if _, err := q.q.ExecContext(ctx, s.sql, s.args...); err != nil {
			return fmt.Errorf("merge customer: %w", err)
		}
	}
	changed := false
	for _, f := range [][2]*string{{&into.Name, &from.Name}, {&into.Email, &from.Email}, {&into.Language, &from.Language}} {
		if strings.TrimSpace(*f[0]) == "" && *f[1] != "" {
			*f[0], changed = *f[1], true
		}
	}
	if changed {
		return q.UpdateCustomer(ctx, into)
	}
	return nil
}

// customersByIdentity finds the customers linked to addresses (pairs of
// tenant id and address), in one statement.
func (q *Queries) customersByIdentity(ctx context.Context, contacts [][2]string) (map[[2]string]parley.Customer, error) {
	out := map[[2]string]parley.Customer{}
	if len(contacts) == 0 {
		return out, nil
	}
	var where strings.Builder
	args := make([]any, 0, 2*len(contacts))
	for i, c := range contacts {
		if i > 0 {
			where.WriteString(" OR ")
		}
		fmt.Fprintf(&where, "(i.tenant_id = $%d AND i.address = $%d)", len(args)+1, len(args)+2)
		args = append(args, c[0], c[1])
	}
	cols := "c." + strings.ReplaceAll(customerCols, ", ", ", c.")
	rows, err := q.q.QueryContext(ctx, `SELECT i.address, `+cols+` FROM customer_identities i
		JOIN customers c ON c.id = i.customer_id AND c.tenant_id = i.tenant_id WHERE `+where.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("customers by identity: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var address string
		var c parley.Customer
		var created int64
		if err := rows.Scan(&address, &c.ID, &c.TenantID, &c.Phone, &c.Name, &c.Email, &c.Language, &created); err != nil {
			return nil, fmt.Errorf("customers by identity: %w", err)
		}
		c.CreatedAt = fromMicros(created)
		out[[2]string{c.TenantID, address}] = c
	}
	return out, rows.Err()
}

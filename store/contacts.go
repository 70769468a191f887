package store

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/parleyhq/parley"
)

// This file holds a tenant's contacts: customers and staff members, looked
// up by id or by number, and the locks that keep two messages from one
// number apart. Every query is scoped by tenant id.

const customerCols = `id, tenant_id, phone, name, email, language, created_at`

func scanCustomer(row interface{ Scan(...any) error }) (parley.Customer, error) {
	var c parley.Customer
	var created int64
	err := row.Scan(&c.ID, &c.TenantID, &c.Phone, &c.Name, &c.Email, &c.Language, &created)
	c.CreatedAt = fromMicros(created)
	return c, err
}

// CreateCustomer stores a customer; the phone must be E.164 and unique in the tenant.
func (q *Queries) CreateCustomer(ctx context.Context, c parley.Customer) (parley.Customer, error) {
	c.ID, c.CreatedAt = newID(), q.clock.Now()
	_, err := q.q.ExecContext(ctx, `INSERT INTO customers (`+customerCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		c.ID, c.TenantID, c.Phone, c.Name, c.Email, c.Language, micros(c.CreatedAt))
	if err := conflictOr(err, "a customer with this phone already exists"); err != nil {
		return c, fmt.Errorf("create customer: %w", err)
	}
	return c, nil
}

// GetCustomer returns one of the tenant's customers.
func (q *Queries) GetCustomer(ctx context.Context, tenantID, id string) (parley.Customer, error) {
	c, err := scanCustomer(q.q.QueryRowContext(ctx, `SELECT `+customerCols+` FROM customers WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return c, rowErr(err, "customer")
}

// CustomerByPhone finds the tenant's customer with an E.164 phone.
func (q *Queries) CustomerByPhone(ctx context.Context, tenantID, phone string) (parley.Customer, error) {
	c, err := scanCustomer(q.q.QueryRowContext(ctx, `SELECT `+customerCols+` FROM customers WHERE tenant_id = $1 AND phone = $2`, tenantID, phone))
	return c, rowErr(err, "customer")
}

// ListCustomers pages through the tenant's customers.
func (q *Queries) ListCustomers(ctx context.Context, tenantID string, p Page) ([]parley.Customer, string, error) {
	return list(ctx, q, p, scanCustomer, func(c parley.Customer) string { return c.ID },
		`SELECT `+customerCols+` FROM customers WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID)
}

// UpdateCustomer saves a customer's changeable fields.
func (q *Queries) UpdateCustomer(ctx context.Context, c parley.Customer) error {
	res, err := q.q.ExecContext(ctx, `UPDATE customers SET phone = $3, name = $4, email = $5, language = $6 WHERE tenant_id = $1 AND id = $2`,
		c.TenantID, c.ID, c.Phone, c.Name, c.Email, c.Language)
	return affected(res, err, "customer")
}

// DeleteCustomer removes a customer; conversations stay, unidentified.
func (q *Queries) DeleteCustomer(ctx context.Context, tenantID, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM customers WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return affected(res, err, "customer")
}

const staffCols = `id, tenant_id, phone, name, type, created_at`

func scanStaff(row interface{ Scan(...any) error }) (parley.StaffMember, error) {
	var s parley.StaffMember
	var created int64
	err := row.Scan(&s.ID, &s.TenantID, &s.Phone, &s.Name, &s.Type, &created)
	s.CreatedAt = fromMicros(created)
	return s, err
}

// CreateStaffMember stores a staff member; the phone is unique in the tenant.
func (q *Queries) CreateStaffMember(ctx context.Context, s parley.StaffMember) (parley.StaffMember, error) {
	s.ID, s.CreatedAt = newID(), q.clock.Now()
	_, err := q.q.ExecContext(ctx, `INSERT INTO staff_members (`+staffCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		s.ID, s.TenantID, s.Phone, s.Name, s.Type, micros(s.CreatedAt))
	if err := conflictOr(err, "a staff member with this phone already exists"); err != nil {
		return s, fmt.Errorf("create staff member: %w", err)
	}
	return s, nil
}

// GetStaffMember returns one of the tenant's staff members.
func (q *Queries) GetStaffMember(ctx context.Context, tenantID, id string) (parley.StaffMember, error) {
	s, err := scanStaff(q.q.QueryRowContext(ctx, `SELECT `+staffCols+` FROM staff_members WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return s, rowErr(err, "staff member")
}

// StaffMemberByPhone finds the tenant's staff member with an E.164 phone.
func (q *Queries) StaffMemberByPhone(ctx context.Context, tenantID, phone string) (parley.StaffMember, error) {
	s, err := scanStaff(q.q.QueryRowContext(ctx, `SELECT `+staffCols+` FROM staff_members WHERE tenant_id = $1 AND phone = $2`, tenantID, phone))
	return s, rowErr(err, "staff member")
}

// StaffMembersByType lists the tenant's staff of one type, oldest first.
func (q *Queries) StaffMembersByType(ctx context.Context, tenantID, typ string) ([]parley.StaffMember, error) {
	items, _, err := list(ctx, q, Page{Limit: 200}, scanStaff, func(s parley.StaffMember) string { return s.ID },
		`SELECT `+staffCols+` FROM staff_members WHERE tenant_id = $1 AND type = $4 AND id > $2 ORDER BY id LIMIT $3`, tenantID, typ)
	return items, err
}

// ListStaffMembers pages through the tenant's staff.
func (q *Queries) ListStaffMembers(ctx context.Context, tenantID string, p Page) ([]parley.StaffMember, string, error) {
	return list(ctx, q, p, scanStaff, func(s parley.StaffMember) string { return s.ID },
		`SELECT `+staffCols+` FROM staff_members WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID)
}

// UpdateStaffMember saves a staff member's changeable fields.
func (q *Queries) UpdateStaffMember(ctx context.Context, s parley.StaffMember) error {
	res, err := q.q.ExecContext(ctx, `UPDATE staff_members SET phone = $3, name = $4, type = $5 WHERE tenant_id = $1 AND id = $2`,
		s.TenantID, s.ID, s.Phone, s.Name, s.Type)
	return affected(res, err, "staff member")
}

// DeleteStaffMember removes a staff member.
func (q *Queries) DeleteStaffMember(ctx context.Context, tenantID, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM staff_members WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return affected(res, err, "staff member")
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

// LockContacts is LockContact for many contacts (pairs of tenant id and
// E.164 number) in one statement, in one global order: the receive and
// answer stages lock their batch's contacts first, so two batches that
// share contacts wait for each other instead of deadlocking over the
// conversation rows they both write.
func (q *Queries) LockContacts(ctx context.Context, contacts [][2]string) error {
	if q.engine != Postgres || len(contacts) == 0 {
		return nil
	}
	if q.tx == nil {
		return fmt.Errorf("lock contacts: needs a transaction")
	}
	keys := make([]string, len(contacts))
	for i, c := range contacts {
		keys[i] = "contact:" + c[0] + ":" + c[1]
	}
	sort.Strings(keys)
	// The target list's volatile lock calls run after the ORDER BY.
	_, err := q.q.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(k, 0))
		FROM (SELECT DISTINCT unnest(string_to_array($1, E'\x1f')) AS k) keys ORDER BY k`, strings.Join(keys, "\x1f"))
	if err != nil {
		return fmt.Errorf("lock contacts: %w", err)
	}
	return nil
}

// ContactsByPhone looks up many contacts (pairs of tenant id and E.164
// number) at once: the staff members and the customers with those
// numbers, one statement each.
func (q *Queries) ContactsByPhone(ctx context.Context, contacts [][2]string) (map[[2]string]parley.StaffMember, map[[2]string]parley.Customer, error) {
	staff := map[[2]string]parley.StaffMember{}
	customers := map[[2]string]parley.Customer{}
	if len(contacts) == 0 {
		return staff, customers, nil
	}
	var where strings.Builder
	args := make([]any, 0, 2*len(contacts))
	for i, c := range contacts {
		if i > 0 {
			where.WriteString(" OR ")
		}
		fmt.Fprintf(&where, "(tenant_id = $%d AND phone = $%d)", len(args)+1, len(args)+2)
		args = append(args, c[0], c[1])
	}
	rows, err := q.q.QueryContext(ctx, `SELECT `+staffCols+` FROM staff_members WHERE `+where.String(), args...)
	if err != nil {
		return nil, nil, fmt.Errorf("staff by phone: %w", err)
	}
	for rows.Next() {
		m, err := scanStaff(rows)
		if err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("staff by phone: %w", err)
		}
		staff[[2]string{m.TenantID, m.Phone}] = m
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("staff by phone: %w", err)
	}
	rows, err = q.q.QueryContext(ctx, `SELECT `+customerCols+` FROM customers WHERE `+where.String(), args...)
	if err != nil {
		return nil, nil, fmt.Errorf("customers by phone: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanCustomer(rows)
		if err != nil {
			return nil, nil, fmt.Errorf("customers by phone: %w", err)
		}
		customers[[2]string{c.TenantID, c.Phone}] = c
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	// Instagram contacts may be linked to a customer known by phone: one
	// more statement, only for them.
	var linked [][2]string
	for _, c := range contacts {
		if _, ok := customers[c]; !ok && strings.HasPrefix(c[1], parley.ContactInstagram) {
			linked = append(linked, c)
		}
	}
	if len(linked) > 0 {
		found, err := q.customersByIdentity(ctx, linked)
		if err != nil {
			return nil, nil, err
		}
		for k, c := range found {
			customers[k] = c
		}
	}
	return staff, customers, nil
}

// CustomersByIDs returns the tenant's customers with the given ids, keyed by id.
func (q *Queries) CustomersByIDs(ctx context.Context, tenantID string, ids []string) (map[string]parley.Customer, error) {
	out := map[string]parley.Customer{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.q.QueryContext(ctx, `SELECT `+customerCols+` FROM customers WHERE tenant_id = $1 AND id IN (`+inList(2, len(ids))+`)`, idArgs(tenantID, ids)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanCustomer(rows)
		if err != nil {
			return nil, err
		}
		out[c.ID] = c
	}
	return out, rows.Err()
}

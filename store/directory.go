package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/parleyhq/parley"
)

// This file holds the tenant's directory: channels, customers, staff members
// and human agents. Every query is scoped by tenant id, so one tenant can
// never read or change another's rows.

const channelCols = `id, tenant_id, type, name, phone_number_id, display_number, access_token, active, test_senders, settings, created_at`

func scanChannel(row interface{ Scan(...any) error }) (parley.Channel, error) {
	var c parley.Channel
	var pnid sql.NullString
	var senders, settings string
	var created int64
	if err := row.Scan(&c.ID, &c.TenantID, &c.Type, &c.Name, &pnid, &c.DisplayNumber, &c.AccessToken, &c.Active, &senders, &settings, &created); err != nil {
		return c, err
	}
	c.PhoneNumberID, c.CreatedAt = pnid.String, fromMicros(created)
	if err := decodeJSON(senders, &c.TestSenders); err != nil {
		return c, err
	}
	if c.TestSenders == nil {
		c.TestSenders = []string{}
	}
	return c, decodeJSON(settings, &c.Settings)
}

// CreateChannel stores a channel. A phone_number_id the tenant already
// uses is a conflict; another tenant's use of it is not (and is not told):
// the gateway routes by ownership, not by who came first.
func (q *Queries) CreateChannel(ctx context.Context, c parley.Channel) (parley.Channel, error) {
	c.ID, c.CreatedAt = newID(), q.clock.Now()
	if c.TestSenders == nil {
		c.TestSenders = []string{}
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO channels (`+channelCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		c.ID, c.TenantID, c.Type, c.Name, nullString(c.PhoneNumberID), c.DisplayNumber, c.AccessToken, c.Active,
		encodeJSON(c.TestSenders), encodeJSON(c.Settings), micros(c.CreatedAt))
	if err := conflictOr(err, "phone_number_id is already used by another of your channels"); err != nil {
		return c, fmt.Errorf("create channel: %w", err)
	}
	return c, nil
}

// GetChannel returns one of the tenant's channels.
func (q *Queries) GetChannel(ctx context.Context, tenantID, id string) (parley.Channel, error) {
	c, err := scanChannel(q.q.QueryRowContext(ctx, `SELECT `+channelCols+` FROM channels WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return c, rowErr(err, "channel")
}

// ChannelsByPhoneNumberID lists every channel, in any tenant, that claims a
// Cloud API number, oldest claim first: the gateway routes to the one whose
// ownership check succeeded.
func (q *Queries) ChannelsByPhoneNumberID(ctx context.Context, phoneNumberID string) ([]parley.Channel, error) {
	return q.channelsByPhoneNumberID(ctx, phoneNumberID, "")
}

// LockChannelsByPhoneNumberID is ChannelsByPhoneNumberID that, on
// PostgreSQL inside a transaction, share-locks the rows: it waits for a
// transaction that is changing one of them (an ownership check being
// recorded) and reads the row as that one committed it. SQLite's single
// writer already serialises the two.
func (q *Queries) LockChannelsByPhoneNumberID(ctx context.Context, phoneNumberID string) ([]parley.Channel, error) {
	if q.engine != Postgres || q.tx == nil {
		return q.ChannelsByPhoneNumberID(ctx, phoneNumberID)
	}
	return q.channelsByPhoneNumberID(ctx, phoneNumberID, " FOR SHARE")
}

func (q *Queries) channelsByPhoneNumberID(ctx context.Context, phoneNumberID, lock string) ([]parley.Channel, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+channelCols+` FROM channels WHERE phone_number_id = $1 ORDER BY created_at, id`+lock, phoneNumberID)
	if err != nil {
		return nil, fmt.Errorf("channels by phone number id: %w", err)
	}
	defer rows.Close()
	var out []parley.Channel
	for rows.Next() {
		c, err := scanChannel(rows)
		if err != nil {
			return nil, fmt.Errorf("channels by phone number id: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ChannelByID finds a channel by id alone, for webhooks whose URL names it
// (Twilio). Callers must authenticate the request before trusting it.
func (q *Queries) ChannelByID(ctx context.Context, id string) (parley.Channel, error) {
	c, err := scanChannel(q.q.QueryRowContext(ctx, `SELECT `+channelCols+` FROM channels WHERE id = $1`, id))
	return c, rowErr(err, "channel")
}

// ListChannels pages through the tenant's channels.
func (q *Queries) ListChannels(ctx context.Context, tenantID string, p Page) ([]parley.Channel, string, error) {
	return list(ctx, q, p, scanChannel, func(c parley.Channel) string { return c.ID },
		`SELECT `+channelCols+` FROM channels WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID)
}

// UpdateChannel saves a channel's changeable fields.
func (q *Queries) UpdateChannel(ctx context.Context, c parley.Channel) error {
	if c.TestSenders == nil {
		c.TestSenders = []string{}
	}
	res, err := q.q.ExecContext(ctx, `UPDATE channels SET name = $3, phone_number_id = $4, display_number = $5, access_token = $6, active = $7, test_senders = $8, settings = $9
		WHERE tenant_id = $1 AND id = $2`,
		c.TenantID, c.ID, c.Name, nullString(c.PhoneNumberID), c.DisplayNumber, c.AccessToken, c.Active, encodeJSON(c.TestSenders), encodeJSON(c.Settings))
	return affected(res, err, "channel")
}

// SetChannelActive switches a channel on or off, and changes nothing else
// (an ownership check recorded meanwhile stays).
func (q *Queries) SetChannelActive(ctx context.Context, tenantID, id string, active bool) error {
	res, err := q.q.ExecContext(ctx, `UPDATE channels SET active = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, id, active)
	return affected(res, err, "channel")
}

// SetChannelTestSenders saves a channel's test senders, and nothing else.
func (q *Queries) SetChannelTestSenders(ctx context.Context, tenantID, id string, senders []string) error {
	if senders == nil {
		senders = []string{}
	}
	res, err := q.q.ExecContext(ctx, `UPDATE channels SET test_senders = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, id, encodeJSON(senders))
	return affected(res, err, "channel")
}

// DeleteChannel removes a channel; its conversations keep their history.
func (q *Queries) DeleteChannel(ctx context.Context, tenantID, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM channels WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return affected(res, err, "channel")
}

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

const agentCols = `id, tenant_id, name, email, available, created_at`

func scanAgent(row interface{ Scan(...any) error }) (parley.Agent, error) {
	var a parley.Agent
	var created int64
	err := row.Scan(&a.ID, &a.TenantID, &a.Name, &a.Email, &a.Available, &created)
	a.CreatedAt = fromMicros(created)
	return a, err
}

// CreateAgent stores a human agent.
func (q *Queries) CreateAgent(ctx context.Context, a parley.Agent) (parley.Agent, error) {
	a.ID, a.CreatedAt = newID(), q.clock.Now()
	_, err := q.q.ExecContext(ctx, `INSERT INTO agents (`+agentCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		a.ID, a.TenantID, a.Name, a.Email, a.Available, micros(a.CreatedAt))
	if err != nil {
		return a, fmt.Errorf("create agent: %w", err)
	}
	return a, nil
}

// GetAgent returns one of the tenant's agents.
func (q *Queries) GetAgent(ctx context.Context, tenantID, id string) (parley.Agent, error) {
	a, err := scanAgent(q.q.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return a, rowErr(err, "agent")
}

// ListAgents pages through the tenant's agents.
func (q *Queries) ListAgents(ctx context.Context, tenantID string, p Page) ([]parley.Agent, string, error) {
	return list(ctx, q, p, scanAgent, func(a parley.Agent) string { return a.ID },
		`SELECT `+agentCols+` FROM agents WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID)
}

// UpdateAgent saves an agent's changeable fields.
func (q *Queries) UpdateAgent(ctx context.Context, a parley.Agent) error {
	res, err := q.q.ExecContext(ctx, `UPDATE agents SET name = $3, email = $4, available = $5 WHERE tenant_id = $1 AND id = $2`,
		a.TenantID, a.ID, a.Name, a.Email, a.Available)
	return affected(res, err, "agent")
}

// DeleteAgent removes an agent.
func (q *Queries) DeleteAgent(ctx context.Context, tenantID, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM agents WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return affected(res, err, "agent")
}

// list runs a keyset-paged query. The query's $1 is the tenant id, $2 the
// cursor, $3 the limit; extra arguments follow as $4….
func list[T any](ctx context.Context, q *Queries, p Page, scan func(interface{ Scan(...any) error }) (T, error), id func(T) string, query, tenantID string, extra ...any) ([]T, string, error) {
	p = p.normalize()
	args := append([]any{tenantID, p.Cursor, p.Limit + 1}, extra...)
	rows, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	items := []T{}
	for rows.Next() {
		item, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		items = append(items, item)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	items, next := nextCursor(items, p.Limit, id)
	return items, next, nil
}

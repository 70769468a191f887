package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/parleyhq/parley"
)

// This file holds a tenant's channels. Every query taking a tenant id is
// scoped by it, so one tenant can never read or change another's rows.

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

// LockChannel is GetChannel that, on PostgreSQL inside a transaction,
// locks the row until the commit: for a caller that writes the whole row
// back, so that a setting changed meanwhile (SetChannelSetting) is read
// first, not overwritten. SQLite's single writer already serialises them.
func (q *Queries) LockChannel(ctx context.Context, tenantID, id string) (parley.Channel, error) {
	if q.engine != Postgres || q.tx == nil {
		return q.GetChannel(ctx, tenantID, id)
	}
	c, err := scanChannel(q.q.QueryRowContext(ctx, `SELECT `+channelCols+` FROM channels WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id))
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

// SetChannelSetting sets one of a channel's settings (an empty value
// removes it) and changes nothing else, in one statement, so that a
// setting written meanwhile by someone else (an ownership check) stays.
func (q *Queries) SetChannelSetting(ctx context.Context, tenantID, id, key, value string) error {
	// A channel saved without settings holds JSON null: start from {} then.
	query := `UPDATE channels SET settings = (WITH cur(s) AS (SELECT CASE WHEN json_type(settings) = 'object' THEN settings ELSE '{}' END)
		SELECT CASE WHEN $4 = '' THEN json_remove(s, $3) ELSE json_set(s, $3, $4) END FROM cur)
		WHERE tenant_id = $1 AND id = $2`
	path := `$."` + strings.ReplaceAll(key, `"`, ``) + `"`
	if q.engine == Postgres {
		query = `UPDATE channels SET settings = (WITH cur(s) AS (SELECT CASE WHEN jsonb_typeof(settings::jsonb) = 'object' THEN settings::jsonb ELSE '{}'::jsonb END)
			SELECT (CASE WHEN $4 = '' THEN s - $3::text ELSE s || jsonb_build_object($3::text, $4::text) END)::text FROM cur)
			WHERE tenant_id = $1 AND id = $2`
		path = key
	}
	res, err := q.q.ExecContext(ctx, query, tenantID, id, path, value)
	return affected(res, err, "channel")
}

// DeleteChannel removes a channel; its conversations keep their history.
func (q *Queries) DeleteChannel(ctx context.Context, tenantID, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM channels WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return affected(res, err, "channel")
}

// ChannelsByID loads channels by id in one statement.
func (q *Queries) ChannelsByID(ctx context.Context, ids []string) (map[string]parley.Channel, error) {
	out := map[string]parley.Channel{}
	if len(ids) == 0 {
		return out, nil
	}
	var args []any
	rows, err := q.q.QueryContext(ctx, `SELECT `+channelCols+` FROM channels WHERE id IN (`+sendPlaceholders(&args, ids)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("load channels: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanChannel(rows)
		if err != nil {
			return nil, fmt.Errorf("load channels: %w", err)
		}
		out[c.ID] = c
	}
	return out, rows.Err()
}

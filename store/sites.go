package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"

	"github.com/parleyhq/parley"
)

// This file holds the sales side's directory: sites, their visitors, their
// sales representatives (site users) and their AI personas (site agents).
// Every query is scoped by tenant id.

const siteCols = `id, tenant_id, name, url, smtp_host, smtp_port, smtp_username, smtp_password, smtp_tls, email_from, email_from_name,
	whatsapp_channel_id, whatsapp_template, site_key, created_at`

func scanSite(row interface{ Scan(...any) error }) (parley.Site, error) {
	var s parley.Site
	var e parley.EmailSender
	var channelID, template sql.NullString
	var created int64
	if err := row.Scan(&s.ID, &s.TenantID, &s.Name, &s.URL, &e.Host, &e.Port, &e.Username, &e.Password, &e.TLS, &e.FromAddress, &e.FromName,
		&channelID, &template, &s.SiteKey, &created); err != nil {
		return s, err
	}
	if e.Host != "" {
		s.Email = &e
	}
	s.WhatsAppChannelID, s.CreatedAt = channelID.String, fromMicros(created)
	if template.Valid {
		s.WhatsAppTemplate = &parley.Template{}
		if err := decodeJSON(template.String, s.WhatsAppTemplate); err != nil {
			return s, err
		}
	}
	return s, nil
}

// siteArgs are a site's stored columns after id and tenant, in siteCols order.
func siteArgs(s parley.Site) []any {
	var e parley.EmailSender
	if s.Email != nil {
		e = *s.Email
	}
	if e.TLS == "" {
		e.TLS = parley.TLSStartTLS
	}
	var template sql.NullString
	if s.WhatsAppTemplate != nil {
		template = sql.NullString{String: encodeJSON(s.WhatsAppTemplate), Valid: true}
	}
	return []any{s.Name, s.URL, e.Host, e.Port, e.Username, e.Password, e.TLS, e.FromAddress, e.FromName, nullString(s.WhatsAppChannelID), template}
}

// newSiteKey makes a site's publishable key.
func newSiteKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "site_" + hex.EncodeToString(b[:])
}

// CreateSite stores a site with a fresh site key.
func (q *Queries) CreateSite(ctx context.Context, s parley.Site) (parley.Site, error) {
	s.ID, s.CreatedAt, s.SiteKey = newID(), q.clock.Now(), newSiteKey()
	args := append([]any{s.ID, s.TenantID}, siteArgs(s)...)
	args = append(args, s.SiteKey, micros(s.CreatedAt))
	if _, err := q.q.ExecContext(ctx, `INSERT INTO sites (`+siteCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`, args...); err != nil {
		return s, fmt.Errorf("create site: %w", err)
	}
	return q.GetSite(ctx, s.TenantID, s.ID)
}

// GetSite returns one of the tenant's sites.
func (q *Queries) GetSite(ctx context.Context, tenantID, id string) (parley.Site, error) {
	s, err := scanSite(q.q.QueryRowContext(ctx, `SELECT `+siteCols+` FROM sites WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return s, rowErr(err, "site")
}

// SiteByID finds a site by id alone, for the public banner route; the
// caller must check the site key before trusting the request.
func (q *Queries) SiteByID(ctx context.Context, id string) (parley.Site, error) {
	s, err := scanSite(q.q.QueryRowContext(ctx, `SELECT `+siteCols+` FROM sites WHERE id = $1`, id))
	return s, rowErr(err, "site")
}

// ListSites pages through the tenant's sites.
func (q *Queries) ListSites(ctx context.Context, tenantID string, p Page) ([]parley.Site, string, error) {
	return list(ctx, q, p, scanSite, func(s parley.Site) string { return s.ID },
		`SELECT `+siteCols+` FROM sites WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID)
}

// UpdateSite saves a site's changeable fields (not its key).
func (q *Queries) UpdateSite(ctx context.Context, s parley.Site) error {
	args := append([]any{s.TenantID, s.ID}, siteArgs(s)...)
	res, err := q.q.ExecContext(ctx, `UPDATE sites SET name = $3, url = $4, smtp_host = $5, smtp_port = $6, smtp_username = $7, smtp_password = $8,
		smtp_tls = $9, email_from = $10, email_from_name = $11, whatsapp_channel_id = $12, whatsapp_template = $13
		WHERE tenant_id = $1 AND id = $2`, args...)
	return affected(res, err, "site")
}

// DeleteSite removes a site with its leads, visitors, users and agents.
func (q *Queries) DeleteSite(ctx context.Context, tenantID, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM sites WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return affected(res, err, "site")
}

const visitorCols = `id, tenant_id, site_id, lead_id, name, created_at`

func scanVisitor(row interface{ Scan(...any) error }) (parley.Visitor, error) {
	var v parley.Visitor
	var leadID sql.NullString
	var created int64
	err := row.Scan(&v.ID, &v.TenantID, &v.SiteID, &leadID, &v.Name, &created)
	v.LeadID, v.CreatedAt = leadID.String, fromMicros(created)
	return v, err
}

// CreateVisitor stores a visitor of a site.
func (q *Queries) CreateVisitor(ctx context.Context, v parley.Visitor) (parley.Visitor, error) {
	v.ID, v.CreatedAt = newID(), q.clock.Now()
	_, err := q.q.ExecContext(ctx, `INSERT INTO visitors (`+visitorCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		v.ID, v.TenantID, v.SiteID, nullString(v.LeadID), v.Name, micros(v.CreatedAt))
	if err != nil {
		return v, fmt.Errorf("create visitor: %w", err)
	}
	return v, nil
}

// GetVisitor returns one of the tenant's visitors.
func (q *Queries) GetVisitor(ctx context.Context, tenantID, id string) (parley.Visitor, error) {
	v, err := scanVisitor(q.q.QueryRowContext(ctx, `SELECT `+visitorCols+` FROM visitors WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return v, rowErr(err, "visitor")
}

// ListVisitors pages through the tenant's visitors.
func (q *Queries) ListVisitors(ctx context.Context, tenantID string, p Page) ([]parley.Visitor, string, error) {
	return list(ctx, q, p, scanVisitor, func(v parley.Visitor) string { return v.ID },
		`SELECT `+visitorCols+` FROM visitors WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID)
}

// UpdateVisitor saves a visitor's changeable fields.
func (q *Queries) UpdateVisitor(ctx context.Context, v parley.Visitor) error {
	res, err := q.q.ExecContext(ctx, `UPDATE visitors SET lead_id = $3, name = $4 WHERE tenant_id = $1 AND id = $2`,
		v.TenantID, v.ID, nullString(v.LeadID), v.Name)
	return affected(res, err, "visitor")
}

// DeleteVisitor removes a visitor and what was addressed to them.
func (q *Queries) DeleteVisitor(ctx context.Context, tenantID, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM visitors WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return affected(res, err, "visitor")
}

const siteUserCols = `id, tenant_id, site_id, name, email, active, created_at`

func scanSiteUser(row interface{ Scan(...any) error }) (parley.SiteUser, error) {
	var u parley.SiteUser
	var created int64
	err := row.Scan(&u.ID, &u.TenantID, &u.SiteID, &u.Name, &u.Email, &u.Active, &created)
	u.CreatedAt = fromMicros(created)
	return u, err
}

// CreateSiteUser stores a sales representative of a site.
func (q *Queries) CreateSiteUser(ctx context.Context, u parley.SiteUser) (parley.SiteUser, error) {
	u.ID, u.CreatedAt = newID(), q.clock.Now()
	_, err := q.q.ExecContext(ctx, `INSERT INTO site_users (`+siteUserCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		u.ID, u.TenantID, u.SiteID, u.Name, u.Email, u.Active, micros(u.CreatedAt))
	if err != nil {
		return u, fmt.Errorf("create site user: %w", err)
	}
	return u, nil
}

// GetSiteUser returns one of the tenant's sales representatives.
func (q *Queries) GetSiteUser(ctx context.Context, tenantID, id string) (parley.SiteUser, error) {
	u, err := scanSiteUser(q.q.QueryRowContext(ctx, `SELECT `+siteUserCols+` FROM site_users WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return u, rowErr(err, "sales representative")
}

// ListSiteUsers pages through the tenant's sales representatives.
func (q *Queries) ListSiteUsers(ctx context.Context, tenantID string, p Page) ([]parley.SiteUser, string, error) {
	return list(ctx, q, p, scanSiteUser, func(u parley.SiteUser) string { return u.ID },
		`SELECT `+siteUserCols+` FROM site_users WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID)
}

// UpdateSiteUser saves a representative's changeable fields.
func (q *Queries) UpdateSiteUser(ctx context.Context, u parley.SiteUser) error {
	res, err := q.q.ExecContext(ctx, `UPDATE site_users SET name = $3, email = $4, active = $5 WHERE tenant_id = $1 AND id = $2`,
		u.TenantID, u.ID, u.Name, u.Email, u.Active)
	return affected(res, err, "sales representative")
}

// DeleteSiteUser removes a representative; personas tied to them stay.
func (q *Queries) DeleteSiteUser(ctx context.Context, tenantID, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM site_users WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return affected(res, err, "sales representative")
}

const siteAgentCols = `id, tenant_id, site_id, role, name, instructions, user_id, active, created_at`

func scanSiteAgent(row interface{ Scan(...any) error }) (parley.LeadPersona, error) {
	var a parley.LeadPersona
	var userID sql.NullString
	var created int64
	err := row.Scan(&a.ID, &a.TenantID, &a.SiteID, &a.Role, &a.Name, &a.Instructions, &userID, &a.Active, &created)
	a.UserID, a.CreatedAt = userID.String, fromMicros(created)
	return a, err
}

// CreateSiteAgent stores an AI persona of a site.
func (q *Queries) CreateSiteAgent(ctx context.Context, a parley.LeadPersona) (parley.LeadPersona, error) {
	a.ID, a.CreatedAt = newID(), q.clock.Now()
	_, err := q.q.ExecContext(ctx, `INSERT INTO site_agents (`+siteAgentCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		a.ID, a.TenantID, a.SiteID, a.Role, a.Name, a.Instructions, nullString(a.UserID), a.Active, micros(a.CreatedAt))
	if err != nil {
		return a, fmt.Errorf("create site agent: %w", err)
	}
	return a, nil
}

// GetSiteAgent returns one of the tenant's AI personas.
func (q *Queries) GetSiteAgent(ctx context.Context, tenantID, id string) (parley.LeadPersona, error) {
	a, err := scanSiteAgent(q.q.QueryRowContext(ctx, `SELECT `+siteAgentCols+` FROM site_agents WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return a, rowErr(err, "agent")
}

// ActiveSiteAgent finds the site's active persona of a role, preferring
// the one tied to userID when given, then the oldest.
func (q *Queries) ActiveSiteAgent(ctx context.Context, tenantID, siteID, role, userID string) (parley.LeadPersona, error) {
	a, err := scanSiteAgent(q.q.QueryRowContext(ctx, `SELECT `+siteAgentCols+` FROM site_agents
		WHERE tenant_id = $1 AND site_id = $2 AND role = $3 AND active
		ORDER BY CASE WHEN user_id = $4 THEN 0 ELSE 1 END, id LIMIT 1`, tenantID, siteID, role, userID))
	return a, rowErr(err, "agent")
}

// ListSiteAgents pages through the tenant's AI personas.
func (q *Queries) ListSiteAgents(ctx context.Context, tenantID string, p Page) ([]parley.LeadPersona, string, error) {
	return list(ctx, q, p, scanSiteAgent, func(a parley.LeadPersona) string { return a.ID },
		`SELECT `+siteAgentCols+` FROM site_agents WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID)
}

// UpdateSiteAgent saves a persona's changeable fields.
func (q *Queries) UpdateSiteAgent(ctx context.Context, a parley.LeadPersona) error {
	res, err := q.q.ExecContext(ctx, `UPDATE site_agents SET role = $3, name = $4, instructions = $5, user_id = $6, active = $7 WHERE tenant_id = $1 AND id = $2`,
		a.TenantID, a.ID, a.Role, a.Name, a.Instructions, nullString(a.UserID), a.Active)
	return affected(res, err, "agent")
}

// DeleteSiteAgent removes a persona; its commands stay as history.
func (q *Queries) DeleteSiteAgent(ctx context.Context, tenantID, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM site_agents WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return affected(res, err, "agent")
}

package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/parleyhq/parley"
)

// This file holds leads, the commands AI personas run for them, and each
// lead's event log. Every query is scoped by tenant id.

const leadCols = `id, tenant_id, site_id, visitor_id, name, company, position, email, phone, pain_points, budget_range, lead_stage, created_at, updated_at`

func scanLead(row interface{ Scan(...any) error }) (parley.Lead, error) {
	var l parley.Lead
	var visitorID sql.NullString
	var pains string
	var created, updated int64
	if err := row.Scan(&l.ID, &l.TenantID, &l.SiteID, &visitorID, &l.Name, &l.Company, &l.Position, &l.Email, &l.Phone, &pains,
		&l.BudgetRange, &l.LeadStage, &created, &updated); err != nil {
		return l, err
	}
	l.VisitorID, l.CreatedAt, l.UpdatedAt = visitorID.String, fromMicros(created), fromMicros(updated)
	if err := decodeJSON(pains, &l.PainPoints); err != nil {
		return l, err
	}
	if l.PainPoints == nil {
		l.PainPoints = []string{}
	}
	return l, nil
}

// CreateLead stores a lead of a site.
func (q *Queries) CreateLead(ctx context.Context, l parley.Lead) (parley.Lead, error) {
	now := q.clock.Now()
	l.ID, l.CreatedAt, l.UpdatedAt = newID(), now, now
	if l.PainPoints == nil {
		l.PainPoints = []string{}
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO leads (`+leadCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		l.ID, l.TenantID, l.SiteID, nullString(l.VisitorID), l.Name, l.Company, l.Position, l.Email, l.Phone, encodeJSON(l.PainPoints),
		l.BudgetRange, l.LeadStage, micros(l.CreatedAt), micros(l.UpdatedAt))
	if err != nil {
		return l, fmt.Errorf("create lead: %w", err)
	}
	return l, nil
}

// GetLead returns one of the tenant's leads.
func (q *Queries) GetLead(ctx context.Context, tenantID, id string) (parley.Lead, error) {
	l, err := scanLead(q.q.QueryRowContext(ctx, `SELECT `+leadCols+` FROM leads WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return l, rowErr(err, "lead")
}

// ListLeads pages through the tenant's leads.
func (q *Queries) ListLeads(ctx context.Context, tenantID string, p Page) ([]parley.Lead, string, error) {
	return list(ctx, q, p, scanLead, func(l parley.Lead) string { return l.ID },
		`SELECT `+leadCols+` FROM leads WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID)
}

// UpdateLead saves a lead's changeable fields.
func (q *Queries) UpdateLead(ctx context.Context, l parley.Lead) error {
	if l.PainPoints == nil {
		l.PainPoints = []string{}
	}
	res, err := q.q.ExecContext(ctx, `UPDATE leads SET visitor_id = $3, name = $4, company = $5, position = $6, email = $7, phone = $8,
		pain_points = $9, budget_range = $10, lead_stage = $11, updated_at = $12 WHERE tenant_id = $1 AND id = $2`,
		l.TenantID, l.ID, nullString(l.VisitorID), l.Name, l.Company, l.Position, l.Email, l.Phone, encodeJSON(l.PainPoints),
		l.BudgetRange, l.LeadStage, micros(q.clock.Now()))
	return affected(res, err, "lead")
}

// DeleteLead removes a lead with its sequences and log.
func (q *Queries) DeleteLead(ctx context.Context, tenantID, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM leads WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return affected(res, err, "lead")
}

const commandCols = `id, tenant_id, site_id, lead_id, agent_id, kind, status, mode, input, output, error, attempts, created_at, completed_at`

func scanCommand(row interface{ Scan(...any) error }) (parley.LeadCommand, error) {
	var c parley.LeadCommand
	var agentID sql.NullString
	var input, output string
	var created int64
	var completed sql.NullInt64
	if err := row.Scan(&c.ID, &c.TenantID, &c.SiteID, &c.LeadID, &agentID, &c.Kind, &c.Status, &c.Mode, &input, &output, &c.Error,
		&c.Attempts, &created, &completed); err != nil {
		return c, err
	}
	c.AgentID, c.CreatedAt, c.CompletedAt = agentID.String, fromMicros(created), fromNullMicros(completed)
	if err := decodeJSON(input, &c.Input); err != nil {
		return c, err
	}
	return c, decodeJSON(output, &c.Output)
}

// CreateCommand records a command as it starts.
func (q *Queries) CreateCommand(ctx context.Context, c parley.LeadCommand) (parley.LeadCommand, error) {
	c.ID, c.CreatedAt = newID(), q.clock.Now()
	if c.Status == "" {
		c.Status = parley.LeadCommandRunning
	}
	if c.Input == nil {
		c.Input = map[string]any{}
	}
	if c.Output == nil {
		c.Output = map[string]any{}
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO agent_commands (`+commandCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		c.ID, c.TenantID, c.SiteID, c.LeadID, nullString(c.AgentID), c.Kind, c.Status, c.Mode, encodeJSON(c.Input), encodeJSON(c.Output),
		c.Error, c.Attempts, micros(c.CreatedAt), nullMicros(c.CompletedAt))
	if err != nil {
		return c, fmt.Errorf("create command: %w", err)
	}
	return c, nil
}

// FinishCommand records a command's outcome: its status, output, error and
// the attempts it took.
func (q *Queries) FinishCommand(ctx context.Context, c parley.LeadCommand) (parley.LeadCommand, error) {
	now := q.clock.Now()
	c.CompletedAt = &now
	if c.Output == nil {
		c.Output = map[string]any{}
	}
	res, err := q.q.ExecContext(ctx, `UPDATE agent_commands SET status = $3, output = $4, error = $5, attempts = $6, completed_at = $7
		WHERE tenant_id = $1 AND id = $2`, c.TenantID, c.ID, c.Status, encodeJSON(c.Output), c.Error, c.Attempts, micros(now))
	return c, affected(res, err, "command")
}

// GetCommand returns one of the tenant's commands.
func (q *Queries) GetCommand(ctx context.Context, tenantID, id string) (parley.LeadCommand, error) {
	c, err := scanCommand(q.q.QueryRowContext(ctx, `SELECT `+commandCols+` FROM agent_commands WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return c, rowErr(err, "command")
}

// ListCommands pages through the tenant's commands, of one lead when
// leadID is set.
func (q *Queries) ListCommands(ctx context.Context, tenantID, leadID string, p Page) ([]parley.LeadCommand, string, error) {
	return list(ctx, q, p, scanCommand, func(c parley.LeadCommand) string { return c.ID },
		`SELECT `+commandCols+` FROM agent_commands WHERE tenant_id = $1 AND ($4 = '' OR lead_id = $4) AND id > $2 ORDER BY id LIMIT $3`, tenantID, leadID)
}

// LatestLeadCommand returns the lead's newest completed command: the final
// content of its latest follow-up (the copywriter's when it ran and
// succeeded, the sales specialist's otherwise).
func (q *Queries) LatestLeadCommand(ctx context.Context, tenantID, leadID string) (parley.LeadCommand, error) {
	c, err := scanCommand(q.q.QueryRowContext(ctx, `SELECT `+commandCols+` FROM agent_commands WHERE tenant_id = $1 AND lead_id = $2 AND status = $3
		ORDER BY id DESC LIMIT 1`, tenantID, leadID, parley.LeadCommandCompleted))
	return c, rowErr(err, "follow-up")
}

const leadEventCols = `id, tenant_id, lead_id, sequence_id, name, payload, created_at`

func scanLeadEvent(row interface{ Scan(...any) error }) (parley.LeadEvent, error) {
	var e parley.LeadEvent
	var seq sql.NullString
	var payload string
	var created int64
	if err := row.Scan(&e.ID, &e.TenantID, &e.LeadID, &seq, &e.Name, &payload, &created); err != nil {
		return e, err
	}
	e.SequenceID, e.CreatedAt = seq.String, fromMicros(created)
	if err := decodeJSON(payload, &e.Payload); err != nil {
		return e, err
	}
	if e.Payload == nil {
		e.Payload = map[string]any{}
	}
	return e, nil
}

// AppendLeadEvent adds an entry to a lead's log.
func (q *Queries) AppendLeadEvent(ctx context.Context, tenantID, leadID, sequenceID, name string, payload map[string]any) (parley.LeadEvent, error) {
	if payload == nil {
		payload = map[string]any{}
	}
	e := parley.LeadEvent{ID: newID(), TenantID: tenantID, LeadID: leadID, SequenceID: sequenceID, Name: name, Payload: payload, CreatedAt: q.clock.Now()}
	_, err := q.q.ExecContext(ctx, `INSERT INTO lead_events (`+leadEventCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		e.ID, e.TenantID, e.LeadID, nullString(sequenceID), e.Name, encodeJSON(payload), micros(e.CreatedAt))
	if err != nil {
		return e, fmt.Errorf("append lead event %s: %w", name, err)
	}
	return e, nil
}

// ListLeadEvents pages through a lead's log, oldest first.
func (q *Queries) ListLeadEvents(ctx context.Context, tenantID, leadID string, p Page) ([]parley.LeadEvent, string, error) {
	return list(ctx, q, p, scanLeadEvent, func(e parley.LeadEvent) string { return e.ID },
		`SELECT `+leadEventCols+` FROM lead_events WHERE tenant_id = $1 AND lead_id = $4 AND id > $2 ORDER BY id LIMIT $3`, tenantID, leadID)
}

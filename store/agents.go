package store

import (
	"context"
	"fmt"

	"github.com/parleyhq/parley"
)

const agentCols = `id, tenant_id, name, email, available, created_at`

func scanAgent(row interface{ Scan(...any) error }) (parley.HumanAgent, error) {
	var a parley.HumanAgent
	var created int64
	err := row.Scan(&a.ID, &a.TenantID, &a.Name, &a.Email, &a.Available, &created)
	a.CreatedAt = fromMicros(created)
	return a, err
}

// CreateAgent stores a human agent.
func (q *Queries) CreateAgent(ctx context.Context, a parley.HumanAgent) (parley.HumanAgent, error) {
	a.ID, a.CreatedAt = newID(), q.clock.Now()
	_, err := q.q.ExecContext(ctx, `INSERT INTO agents (`+agentCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		a.ID, a.TenantID, a.Name, a.Email, a.Available, micros(a.CreatedAt))
	if err != nil {
		return a, fmt.Errorf("create agent: %w", err)
	}
	return a, nil
}

// GetAgent returns one of the tenant's agents.
func (q *Queries) GetAgent(ctx context.Context, tenantID, id string) (parley.HumanAgent, error) {
	a, err := scanAgent(q.q.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return a, rowErr(err, "agent")
}

// ListAgents pages through the tenant's agents.
func (q *Queries) ListAgents(ctx context.Context, tenantID string, p Page) ([]parley.HumanAgent, string, error) {
	return list(ctx, q, p, scanAgent, func(a parley.HumanAgent) string { return a.ID },
		`SELECT `+agentCols+` FROM agents WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID)
}

// UpdateAgent saves an agent's changeable fields.
func (q *Queries) UpdateAgent(ctx context.Context, a parley.HumanAgent) error {
	res, err := q.q.ExecContext(ctx, `UPDATE agents SET name = $3, email = $4, available = $5 WHERE tenant_id = $1 AND id = $2`,
		a.TenantID, a.ID, a.Name, a.Email, a.Available)
	return affected(res, err, "agent")
}

// DeleteAgent removes an agent.
func (q *Queries) DeleteAgent(ctx context.Context, tenantID, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM agents WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return affected(res, err, "agent")
}

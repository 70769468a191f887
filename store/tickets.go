package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/parleyhq/parley"
)

const ticketCols = `id, tenant_id, conversation_id, status, agent_id, reason, assigned_at, closed_at, created_at, updated_at`

func scanTicket(row interface{ Scan(...any) error }) (parley.Ticket, error) {
	var t parley.Ticket
	var agentID sql.NullString
	var assigned, closed sql.NullInt64
	var created, updated int64
	if err := row.Scan(&t.ID, &t.TenantID, &t.ConversationID, &t.Status, &agentID, &t.Reason, &assigned, &closed, &created, &updated); err != nil {
		return t, err
	}
	t.AgentID = agentID.String
	t.AssignedAt, t.ClosedAt = fromNullMicros(assigned), fromNullMicros(closed)
	t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
	return t, nil
}

// ErrTicketOpen is returned (as a conflict) when a conversation already has
// an open ticket.
var ErrTicketOpen = &parley.Error{Code: parley.CodeConflict, Message: "the conversation already has an open ticket"}

// CreateTicket opens a ticket for a conversation, waiting in the queue. A
// conversation that already has an open ticket gives ErrTicketOpen.
func (q *Queries) CreateTicket(ctx context.Context, t parley.Ticket) (parley.Ticket, error) {
	now := q.clock.Now()
	t.ID, t.Status, t.AgentID, t.CreatedAt, t.UpdatedAt = newID(), parley.TicketOpen, "", now, now
	_, err := q.q.ExecContext(ctx, `INSERT INTO tickets (`+ticketCols+`) VALUES ($1, $2, $3, $4, NULL, $5, NULL, NULL, $6, $7)`,
		t.ID, t.TenantID, t.ConversationID, t.Status, t.Reason, micros(now), micros(now))
	if isUniqueViolation(err) {
		return t, ErrTicketOpen
	}
	if err != nil {
		return t, fmt.Errorf("create ticket: %w", err)
	}
	return t, nil
}

// GetTicket returns one of the tenant's tickets.
func (q *Queries) GetTicket(ctx context.Context, tenantID, id string) (parley.Ticket, error) {
	t, err := scanTicket(q.q.QueryRowContext(ctx, `SELECT `+ticketCols+` FROM tickets WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return t, rowErr(err, "ticket")
}

// OpenTicketFor returns the conversation's open ticket, or a not-found error.
func (q *Queries) OpenTicketFor(ctx context.Context, tenantID, conversationID string) (parley.Ticket, error) {
	t, err := scanTicket(q.q.QueryRowContext(ctx, `SELECT `+ticketCols+` FROM tickets WHERE tenant_id = $1 AND conversation_id = $2 AND status = 'open'`,
		tenantID, conversationID))
	return t, rowErr(err, "open ticket")
}

// TicketFilter narrows ListTickets. Empty fields match all.
type TicketFilter struct {
	Status  parley.TicketStatus
	AgentID string
	// Unassigned keeps only tickets no agent has (the queue).
	Unassigned bool
}

// ListTickets pages through the tenant's tickets, oldest first (the queue's order).
func (q *Queries) ListTickets(ctx context.Context, tenantID string, f TicketFilter, p Page) ([]parley.Ticket, string, error) {
	id := func(t parley.Ticket) string { return t.ID }
	query := `SELECT ` + ticketCols + ` FROM tickets WHERE tenant_id = $1 AND id > $2`
	var args []any // $4 onwards; $1-$3 are list's
	if f.Status != "" {
		args = append(args, f.Status)
		query += fmt.Sprintf(` AND status = $%d`, len(args)+3)
	}
	if f.AgentID != "" {
		args = append(args, f.AgentID)
		query += fmt.Sprintf(` AND agent_id = $%d`, len(args)+3)
	}
	if f.Unassigned {
		query += ` AND agent_id IS NULL`
	}
	return list(ctx, q, p, scanTicket, id, query+` ORDER BY id LIMIT $3`, tenantID, args...)
}

// WaitingTickets returns up to n of the tenant's open tickets that no agent
// has, oldest first.
func (q *Queries) WaitingTickets(ctx context.Context, tenantID string, n int) ([]parley.Ticket, error) {
	items, _, err := list(ctx, q, Page{Limit: n}, scanTicket, func(t parley.Ticket) string { return t.ID },
		`SELECT `+ticketCols+` FROM tickets WHERE tenant_id = $1 AND id > $2 AND status = 'open' AND agent_id IS NULL ORDER BY id LIMIT $3`, tenantID)
	return items, err
}

// TenantsWithWaitingTickets lists the tenants that have open tickets with
// no agent, for the periodic assignment scan.
func (q *Queries) TenantsWithWaitingTickets(ctx context.Context) ([]string, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT DISTINCT tenant_id FROM tickets WHERE status = 'open' AND agent_id IS NULL`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// NextAgent picks the tenant's available agent for the next assignment,
// round robin: the one assigned longest ago (never assigned first).
func (q *Queries) NextAgent(ctx context.Context, tenantID string) (parley.HumanAgent, error) {
	a, err := scanAgent(q.q.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents WHERE tenant_id = $1 AND available
		ORDER BY COALESCE(last_assigned_at, 0), id LIMIT 1`, tenantID))
	return a, rowErr(err, "available agent")
}

// AssignTicket gives an open ticket to an agent and moves the agent to the
// back of the round robin. With onlyWaiting, a ticket that another process
// assigned meanwhile is left alone and the result is a conflict.
func (q *Queries) AssignTicket(ctx context.Context, tenantID, id, agentID string, onlyWaiting bool) (parley.Ticket, error) {
	now := micros(q.clock.Now())
	query := `UPDATE tickets SET agent_id = $3, assigned_at = $4, updated_at = $4 WHERE tenant_id = $1 AND id = $2 AND status = 'open'`
	if onlyWaiting {
		query += ` AND agent_id IS NULL`
	}
	res, err := q.q.ExecContext(ctx, query, tenantID, id, agentID, now)
	if err := affected(res, err, "open ticket"); err != nil {
		if parley.ErrorCode(err) == parley.CodeNotFound && onlyWaiting {
			return parley.Ticket{}, &parley.Error{Code: parley.CodeConflict, Message: "ticket is no longer waiting"}
		}
		return parley.Ticket{}, err
	}
	if _, err := q.q.ExecContext(ctx, `UPDATE agents SET last_assigned_at = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, agentID, now); err != nil {
		return parley.Ticket{}, fmt.Errorf("update agent round robin: %w", err)
	}
	return q.GetTicket(ctx, tenantID, id)
}

// CloseTicket closes an open ticket; a closed or unknown one is not found.
func (q *Queries) CloseTicket(ctx context.Context, tenantID, id string) (parley.Ticket, error) {
	now := micros(q.clock.Now())
	res, err := q.q.ExecContext(ctx, `UPDATE tickets SET status = 'closed', closed_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND status = 'open'`,
		tenantID, id, now)
	if err := affected(res, err, "open ticket"); err != nil {
		return parley.Ticket{}, err
	}
	return q.GetTicket(ctx, tenantID, id)
}

// TouchTicket moves a ticket's updated time, e.g. when the customer writes
// while humans hold the conversation.
func (q *Queries) TouchTicket(ctx context.Context, tenantID, id string) error {
	res, err := q.q.ExecContext(ctx, `UPDATE tickets SET updated_at = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, id, micros(q.clock.Now()))
	return affected(res, err, "ticket")
}

// HasOpenTicket is the ConversationFilter condition "has (or has no) open ticket".
func HasOpenTicket(has bool) Condition {
	cond := `EXISTS (SELECT 1 FROM tickets t WHERE t.conversation_id = conversations.id AND t.status = 'open')`
	if !has {
		cond = "NOT " + cond
	}
	return Condition{SQL: cond}
}

// OpenTicketsFor returns the open tickets of the tenant's conversations
// named, keyed by conversation id (a conversation has at most one).
func (q *Queries) OpenTicketsFor(ctx context.Context, tenantID string, conversationIDs []string) (map[string]parley.Ticket, error) {
	out := map[string]parley.Ticket{}
	if len(conversationIDs) == 0 {
		return out, nil
	}
	rows, err := q.q.QueryContext(ctx, `SELECT `+ticketCols+` FROM tickets WHERE tenant_id = $1 AND status = 'open' AND conversation_id IN (`+
		inList(2, len(conversationIDs))+`)`, idArgs(tenantID, conversationIDs)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, err
		}
		out[t.ConversationID] = t
	}
	return out, rows.Err()
}

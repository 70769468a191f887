package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

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
func (q *Queries) NextAgent(ctx context.Context, tenantID string) (parley.Agent, error) {
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

// Answer outcomes recorded in the answer ledger.
const (
	AnsweredByAI       = "ai"         // the AI agent's (or the offline mode's) answer was queued
	AnsweredByTicket   = "ticket"     // escalated: a ticket was opened (with a holding reply)
	AnsweredSuperseded = "superseded" // a later customer message is answered instead
)

// Answered is one entry of the answer ledger.
type Answered struct {
	TenantID        string
	ConversationID  string
	MessageID       string // the customer message answered
	Outcome         string
	AnswerMessageID string
	TicketID        string
	At              time.Time
}

// ErrAlreadyAnswered is returned by MarkAnswered for a message that has an
// entry already: the caller's work was done by an earlier run.
var ErrAlreadyAnswered = &parley.Error{Code: parley.CodeConflict, Message: "the message was already answered"}

// MarkAnswered records that a customer message has been answered. Run it in
// the transaction that queues the answer: the second writer gets
// ErrAlreadyAnswered and must roll back.
func (q *Queries) MarkAnswered(ctx context.Context, a Answered) error {
	if a.At.IsZero() {
		a.At = q.clock.Now()
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO answered_messages (message_id, tenant_id, conversation_id, outcome, answer_message_id, ticket_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, a.MessageID, a.TenantID, a.ConversationID, a.Outcome, nullString(a.AnswerMessageID), nullString(a.TicketID), micros(a.At))
	if isUniqueViolation(err) {
		return ErrAlreadyAnswered
	}
	if err != nil {
		return fmt.Errorf("mark answered: %w", err)
	}
	return nil
}

// MarkAnsweredIfNew records an entry unless the message has one already.
// Unlike MarkAnswered it leaves the transaction usable either way (a unique
// violation aborts a PostgreSQL transaction).
func (q *Queries) MarkAnsweredIfNew(ctx context.Context, a Answered) error {
	if a.At.IsZero() {
		a.At = q.clock.Now()
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO answered_messages (message_id, tenant_id, conversation_id, outcome, answer_message_id, ticket_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (message_id) DO NOTHING`,
		a.MessageID, a.TenantID, a.ConversationID, a.Outcome, nullString(a.AnswerMessageID), nullString(a.TicketID), micros(a.At))
	if err != nil {
		return fmt.Errorf("mark answered: %w", err)
	}
	return nil
}

// IsAnswered reports whether the customer message has a ledger entry.
func (q *Queries) IsAnswered(ctx context.Context, tenantID, messageID string) (bool, error) {
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM answered_messages WHERE tenant_id = $1 AND message_id = $2`, tenantID, messageID).Scan(&n)
	return n > 0, err
}

// LatestCustomerMessage returns the conversation's newest message from the
// contact, or a not-found error.
func (q *Queries) LatestCustomerMessage(ctx context.Context, tenantID, conversationID string) (parley.Message, error) {
	m, err := scanMessage(q.q.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND role = 'customer'
		ORDER BY id DESC LIMIT 1`, tenantID, conversationID))
	return m, rowErr(err, "customer message")
}

package parley

import "time"

// HumanAgent is a human agent who takes over conversations through tickets.
type HumanAgent struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Available bool      `json:"available"`
	CreatedAt time.Time `json:"created_at"`
}

// TicketStatus is whether a ticket still holds its conversation for humans.
type TicketStatus string

const (
	TicketOpen   TicketStatus = "open"   // humans answer; waiting in the queue while AgentID is empty
	TicketClosed TicketStatus = "closed" // the conversation is back with the AI agent
)

// Ticket hands a conversation to the tenant's human agents. While a
// conversation has an open ticket, the AI agent does not answer it.
type Ticket struct {
	ID             string       `json:"id"`
	TenantID       string       `json:"tenant_id"`
	ConversationID string       `json:"conversation_id"`
	Status         TicketStatus `json:"status" enum:"open,closed"`
	// AgentID is the assigned agent; empty while the ticket waits in the queue.
	AgentID    string     `json:"agent_id,omitempty"`
	Reason     string     `json:"reason" doc:"Why the ticket was opened"`
	AssignedAt *time.Time `json:"assigned_at,omitempty"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

package parley

import "time"

// ConversationStatus is whether a conversation is still going on.
type ConversationStatus string

const (
	ConversationOpen   ConversationStatus = "open"
	ConversationClosed ConversationStatus = "closed"
)

// ConversationKind separates customer conversations from the tenant's own
// staff members' conversations, which are offered staff-only tools.
type ConversationKind string

const (
	KindCustomer ConversationKind = "customer"
	KindStaff    ConversationKind = "staff"
)

// Conversation is the thread between a tenant and one contact.
type Conversation struct {
	ID            string             `json:"id"`
	TenantID      string             `json:"tenant_id"`
	Kind          ConversationKind   `json:"kind"`
	Status        ConversationStatus `json:"status"`
	CustomerID    string             `json:"customer_id,omitempty"` // empty for an unidentified contact
	StaffMemberID string             `json:"staff_member_id,omitempty"`
	ContactPhone  string             `json:"contact_phone"` // E.164 of the other side
	ChannelID     string             `json:"channel_id"`    // the active channel: where the contact last wrote
	Language      string             `json:"language"`
	// SessionStartedAt is when the contact's first message after an agent
	// message arrived; follow-ups fire at most once per session.
	SessionStartedAt      time.Time  `json:"session_started_at"`
	LastCustomerMessageAt *time.Time `json:"last_customer_message_at"`
	LastAgentMessageAt    *time.Time `json:"last_agent_message_at"`
	CreatedAt             time.Time  `json:"created_at"`
	UpdatedAt             time.Time  `json:"updated_at"`
}

// Event is one entry in a conversation's log: a command or an event of the
// flow, by its stable name, with its payload.
type Event struct {
	ID             string         `json:"id"`
	TenantID       string         `json:"tenant_id"`
	ConversationID string         `json:"conversation_id"`
	Name           string         `json:"name"`
	Payload        map[string]any `json:"payload"`
	CreatedAt      time.Time      `json:"created_at"`
}

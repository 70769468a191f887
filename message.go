package parley

import "time"

// Role says who wrote a message.
type Role string

const (
	RoleCustomer Role = "customer" // the contact (a customer, or a staff member in a staff conversation)
	RoleAI       Role = "ai"       // Parley's AI agent
	RoleAgent    Role = "agent"    // a human agent
	RoleSystem   Role = "system"   // instructions and context that are not sent
)

// MessageType is the content type of a message, following WhatsApp's types.
type MessageType string

const (
	MessageText        MessageType = "text"
	MessageInteractive MessageType = "interactive" // button or list reply
	MessageButton      MessageType = "button"      // template quick-reply tap
	MessageImage       MessageType = "image"
	MessageAudio       MessageType = "audio"
	MessageVideo       MessageType = "video"
	MessageDocument    MessageType = "document"
	MessageSticker     MessageType = "sticker"
	MessageLocation    MessageType = "location"
	MessageContacts    MessageType = "contacts"
	MessageReaction    MessageType = "reaction"
	MessageTemplate    MessageType = "template"
	MessageUnknown     MessageType = "unknown" // kept with its raw payload, never dropped
)

// DeliveryStatus is where an outbound message is on its way to the contact.
// Statuses only move forward (see Rank).
type DeliveryStatus string

const (
	StatusReceived  DeliveryStatus = "received" // inbound
	StatusQueued    DeliveryStatus = "queued"
	StatusSent      DeliveryStatus = "sent"
	StatusDelivered DeliveryStatus = "delivered"
	StatusRead      DeliveryStatus = "read"
	StatusFailed    DeliveryStatus = "failed"
)

// Rank orders statuses so that a late "delivered" never overwrites "read".
func (s DeliveryStatus) Rank() int {
	switch s {
	case StatusQueued:
		return 1
	case StatusSent:
		return 2
	case StatusDelivered:
		return 3
	case StatusRead:
		return 4
	case StatusFailed:
		return 5
	}
	return 0
}

// Message is one message in a conversation.
type Message struct {
	ID               string         `json:"id"`
	TenantID         string         `json:"tenant_id"`
	ConversationID   string         `json:"conversation_id"`
	Role             Role           `json:"role"`
	Type             MessageType    `json:"type"`
	Content          string         `json:"content"`
	ChannelID        string         `json:"channel_id,omitempty"`
	ChannelMessageID string         `json:"channel_message_id,omitempty"` // e.g. the wamid
	Status           DeliveryStatus `json:"status"`
	ErrorCode        string         `json:"error_code,omitempty"`
	ErrorReason      string         `json:"error_reason,omitempty"`
	Template         *Template      `json:"template,omitempty"`
	Extra            map[string]any `json:"extra,omitempty"` // type-specific data and raw payloads
	CreatedAt        time.Time      `json:"created_at"`
}

// Template is an approved WhatsApp message template with its parameters.
type Template struct {
	Name       string   `json:"name"`
	Language   string   `json:"language"`
	Parameters []string `json:"parameters,omitempty"` // body {{1}}, {{2}}, …
}

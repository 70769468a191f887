// Package flow is the contract between the parts of a conversation: the
// names of its commands and events (the event catalog users know), the
// message a channel hands to the conversation store, and the one outbox
// every reply, notification and follow-up leaves through.
//
// A message's walk — webhook → channel → conversation → llm → conversation
// → channel — crosses each package once; this package is what they share.
package flow

import (
	"context"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// The event catalog: stable names of the flow's commands and events, as they
// appear in job kinds' documentation and in every conversation's event log.
const (
	TextMessageReceived             = "WhatsApp Business Text Message Received"
	TextMessageWithUserInfoReceived = "WhatsApp Business Text Message With User Info Received"
	GenerateAIAgentAnswer           = "Generate AI Agent Answer"
	AIAgentAnswerGenerated          = "AI Agent Answer Generated"
	OpenTicket                      = "Open Ticket"
	TicketOpened                    = "Ticket Opened"
	AgentAssigned                   = "Agent Assigned"
	GetConversation                 = "Get Conversation"
	ConversationDocument            = "Conversation Document"
	GenerateAgentAnswer             = "Generate Agent Answer"
	AgentAnswerGenerated            = "Agent Answer Generated"
	SendTextMessage                 = "Send WhatsApp Business Text Message"
	MessageStatusChanged            = "Message Status Changed"
	MessageSendFailed               = "Message Send Failed"
)

// Inbound is a contact's message as a channel hands it to the conversation
// store, after the gateway has identified the sender.
type Inbound struct {
	TenantID    string
	Channel     parley.Channel
	Phone       string // E.164
	ContactName string // the name the contact's WhatsApp profile shows
	// Customer is the tenant's customer with this number, nil when unknown.
	Customer *parley.Customer
	// Staff is set when the number belongs to one of the tenant's staff:
	// the conversation is then a staff conversation.
	Staff *parley.StaffMember
	// Message has Role customer and the provider's id, type, content and
	// extra data; CreatedAt is when the provider says it was sent.
	Message parley.Message
}

// Receiver takes inbound messages into conversations. It runs inside the
// transaction of the job that received the message, so the message, its
// conversation and the next job commit together.
type Receiver interface {
	Receive(ctx context.Context, q *store.Queries, in Inbound) (parley.Conversation, error)
}

// Package channel is the provider-neutral message path (receiving,
// sending, the 24-hour rule, channel checks) and the contract between the
// parts of a conversation: the message a channel hands to the conversation store, and the one outbox
// every reply, notification and follow-up leaves through.
//
// A message's walk — webhook → channel → conversation → llm → conversation
// → channel — crosses each package once; this package is what they share.
package channel

import (
	"context"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
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

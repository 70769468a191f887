package campaign

import (
	"reflect"

	"github.com/parleyhq/parley/event"
)

// Events a broadcast leaves in a customer's conversation.
const (
	EventBroadcastQueued = "Broadcast Message Queued"
	EventOptedOut        = "Customer Opted Out"
)

// BroadcastQueuedPayload is Broadcast Message Queued: the broadcast's
// template was queued to the customer (Send WhatsApp Business Text Message
// follows it in the log).
type BroadcastQueuedPayload struct {
	BroadcastID string `json:"broadcast_id"`
	Name        string `json:"name"`
	MessageID   string `json:"message_id"`
	Template    string `json:"template"`
	Language    string `json:"language"`
}

// OptedOutPayload is Customer Opted Out: the customer wrote an opt-out
// word; ConfirmationID is the message that told them (empty when they had
// opted out already and were not told again).
type OptedOutPayload struct {
	Phone          string `json:"phone"`
	Word           string `json:"word"`
	MessageID      string `json:"message_id" jsonschema:"the customer's message"`
	ConfirmationID string `json:"confirmation_message_id,omitempty"`
	Already        bool   `json:"already_opted_out"`
}

// EventNames make them event.Payloads.
func (BroadcastQueuedPayload) EventNames() []string { return []string{EventBroadcastQueued} }
func (OptedOutPayload) EventNames() []string        { return []string{EventOptedOut} }

func broadcastCatalog() []event.Entry {
	return []event.Entry{
		{Name: EventBroadcastQueued, Type: "event", Summary: "A broadcast's template was queued to the customer, in the batch that marked them queued.",
			Payload: reflect.TypeFor[BroadcastQueuedPayload]()},
		{Name: EventOptedOut, Type: "event", Summary: "The customer wrote an opt-out word: no broadcast is sent to them again; the first time, a confirmation is queued.",
			Payload: reflect.TypeFor[OptedOutPayload]()},
		{Name: "Pace Broadcasts", Type: "command", JobKind: PaceArgs{}.Kind(), Summary: "Send the next batch of every due broadcast (every second, and when one is created).",
			Payload: reflect.TypeFor[PaceArgs]()},
	}
}

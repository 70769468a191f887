package notify

import (
	"github.com/parleyhq/parley/event"
	"reflect"
)

// RequestedPayload is Notification Requested, logged in the customer's conversation.
type RequestedPayload struct {
	NotificationID string `json:"notification_id"`
	Ref            string `json:"ref" jsonschema:"the id staff see, e.g. NOTIF_12"`
	Type           string `json:"type" jsonschema:"user_question_request or user_support_request"`
	TargetType     string `json:"target_type" jsonschema:"the staff type asked (Admin when unrouted)"`
	RequestType    string `json:"request_type"`
	Recipients     int    `json:"recipients"`
	DocumentID     string `json:"document_id,omitempty"`
}

// AnsweredPayload is Notification Answered.
type AnsweredPayload struct {
	NotificationID string `json:"notification_id"`
	Ref            string `json:"ref"`
	AnsweredBy     string `json:"answered_by"`
	Answer         int    `json:"answer" jsonschema:"which answer (1 for the first)"`
}

// DeliveredPayload is Notification Answer Delivered: the answer was queued
// to the customer (the message's own events tell whether it was sent).
type DeliveredPayload struct {
	NotificationID     string `json:"notification_id"`
	Ref                string `json:"ref"`
	Via                string `json:"via" jsonschema:"template, ai or text"`
	Language           string `json:"language"`
	Status             string `json:"status" jsonschema:"queued"`
	MessageID          string `json:"message_id" jsonschema:"the message that carries the answer"`
	TicketID           string `json:"ticket_id,omitempty" jsonschema:"the open ticket that held the conversation (its agent got a note; it stays open)"`
	ConversationClosed bool   `json:"conversation_closed,omitempty" jsonschema:"the conversation was closed; the answer went all the same"`
}

// Catalog lists the merchant-notification commands and events for `parley events`.
func Catalog() []event.Entry {
	return []event.Entry{
		{Name: "Request Notification", Type: "command", JobKind: RequestArgs{}.Kind(), Summary: "Ask the business's staff: validate, classify, store, send the request campaign.", Payload: reflect.TypeFor[RequestArgs]()},
		{Name: EventRequested, Type: "event", Summary: "Staff were asked; the recipients are kept.", Payload: reflect.TypeFor[RequestedPayload]()},
		{Name: EventAnswered, Type: "event", Summary: "A staff member answered (single-answer notifications accept one).", Payload: reflect.TypeFor[AnsweredPayload]()},
		{Name: "Deliver Notification Answer", Type: "command", JobKind: DeliverArgs{}.Kind(), Summary: "Localize the answer and bring it to the customer (template outside the 24-hour window).", Payload: reflect.TypeFor[DeliverArgs]()},
		{Name: EventDelivered, Type: "event", Summary: "The answer was queued to the customer, even past a ticket or a closed conversation; the message's own events tell the send.", Payload: reflect.TypeFor[DeliveredPayload]()},
	}
}

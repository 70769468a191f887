package notify

import (
	"reflect"

	"github.com/parleyhq/parley/flow"
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

// DeliveredPayload is Notification Answer Delivered.
type DeliveredPayload struct {
	NotificationID string `json:"notification_id"`
	Ref            string `json:"ref"`
	Via            string `json:"via" jsonschema:"template, ai or text"`
	Language       string `json:"language"`
}

// Catalog lists the merchant-notification commands and events for `parley events`.
func Catalog() []flow.Entry {
	return []flow.Entry{
		{Name: "Request Notification", Type: "command", JobKind: RequestArgs{}.Kind(), Summary: "Ask the business's staff: validate, classify, store, send the request campaign.", Payload: reflect.TypeFor[RequestArgs]()},
		{Name: EventRequested, Type: "event", Summary: "Staff were asked; the recipients are kept.", Payload: reflect.TypeFor[RequestedPayload]()},
		{Name: EventAnswered, Type: "event", Summary: "A staff member answered (single-answer notifications accept one).", Payload: reflect.TypeFor[AnsweredPayload]()},
		{Name: "Deliver Notification Answer", Type: "command", JobKind: DeliverArgs{}.Kind(), Summary: "Localize the answer and bring it to the customer (template outside the 24-hour window).", Payload: reflect.TypeFor[DeliverArgs]()},
		{Name: EventDelivered, Type: "event", Summary: "The answer went to the customer.", Payload: reflect.TypeFor[DeliveredPayload]()},
	}
}

package parley

import "time"

// NotificationType names a kind of merchant notification: a question or a
// request the AI agent could not handle, put to the tenant's staff.
type NotificationType string

const (
	NotificationQuestion NotificationType = "user_question_request"
	NotificationSupport  NotificationType = "user_support_request"
)

// NotificationStatus is where a notification is.
type NotificationStatus string

const (
	NotificationRequested NotificationStatus = "requested" // sent to staff, waiting for an answer
	NotificationAnswered  NotificationStatus = "answered"  // a staff member answered
)

// What became of an answer, as stored: a queued message (whose own status
// then follows the send), or nothing sent.
const (
	DeliveryQueued  = "queued"
	DeliverySkipped = "skipped"
)

// CodeAlreadyAnswered is the error code of an answer to a single-answer
// notification that someone answered first (HTTP 409).
const CodeAlreadyAnswered Code = "already_answered"

// Notification is a customer's question or support request put to the
// tenant's staff, and the answer that goes back to the customer.
type Notification struct {
	ID       string             `json:"id"`
	TenantID string             `json:"tenant_id"`
	Number   int64              `json:"number" doc:"Per-tenant sequence; staff see it as NOTIF_<number>"`
	Ref      string             `json:"ref" doc:"The prefixed id staff see, NOTIF_<number>"`
	Type     NotificationType   `json:"type" enum:"user_question_request,user_support_request"`
	Status   NotificationStatus `json:"status" enum:"requested,answered"`
	// ConversationID is the customer's conversation; empty once it was deleted.
	ConversationID string `json:"conversation_id,omitempty"`
	// DocumentID is the knowledge document a question created.
	DocumentID string `json:"document_id,omitempty"`
	// Requested holds the requested fields (e.g. question), Answered the
	// answered ones (e.g. answer), both by field name.
	Requested map[string]string `json:"requested"`
	Answered  map[string]string `json:"answered,omitempty"`
	// TargetType is the staff type the request went to; RequestType the
	// label shown for it ("Admin" when it fell back to the admins).
	TargetType    string         `json:"target_type"`
	RequestType   string         `json:"request_type"`
	AnswerSchema  map[string]any `json:"answer_schema"`
	AllowMultiple bool           `json:"allow_multiple_answers"`
	Recipients    []Recipient    `json:"recipients"`
	AnsweredBy    string         `json:"answered_by,omitempty" doc:"staff:<id>, api or dashboard:<user id>"`
	AnsweredAt    *time.Time     `json:"answered_at,omitempty"`
	Answers       int            `json:"answers" doc:"How many answers were accepted"`
	Delivered     int            `json:"delivered" doc:"How many answers the delivery job handled (sent or skipped: see delivery_status)"`
	DeliveredVia  string         `json:"delivered_via,omitempty" doc:"template (outside the 24-hour window), ai (inside it, written by the AI agent), text (the localized answer as written: inside it when a ticket holds the conversation, it is closed, or offline) or none (skipped)"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`

	// DeliveryStatus is what became of the latest answer: queued, sent,
	// delivered, read or failed (the message's own status, which follows
	// the real send) or skipped; DeliveryReason says why it failed or was
	// skipped. Empty before an answer.
	DeliveryStatus    string `json:"delivery_status,omitempty" enum:"queued,sent,delivered,read,failed,skipped"`
	DeliveryReason    string `json:"delivery_reason,omitempty" doc:"why the answer failed (the provider's error) or was skipped"`
	DeliveryMessageID string `json:"delivery_message_id,omitempty" doc:"the message that carries the answer in the customer's conversation"`
}

// Recipient is a staff member a notification was sent to, in their staff
// conversation.
type Recipient struct {
	StaffMemberID  string `json:"staff_member_id"`
	Name           string `json:"name"`
	Phone          string `json:"phone"`
	ConversationID string `json:"conversation_id"`
}

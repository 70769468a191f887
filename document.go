package parley

import "time"

// Document is a knowledge-base entry the AI agent retrieves from.
type Document struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	Category  string    `json:"category"` // e.g. FAQ, UserQuestion, SupportClassification
	Source    string    `json:"source"`   // e.g. manual, free_input
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Provenance says who wrote the body when a staff answer to a
	// customer's question did; nil for documents written by hand.
	Provenance *DocumentProvenance `json:"provenance,omitempty"`
}

// DocumentProvenance records the answer that wrote a knowledge document:
// the knowledge base serves it to every later customer, so it must say
// whose word it is and how it came in.
type DocumentProvenance struct {
	NotificationID  string    `json:"notification_id"`
	NotificationRef string    `json:"notification_ref"`
	AnsweredBy      string    `json:"answered_by" doc:"staff:<id>, api or dashboard:<user id>"`
	Via             string    `json:"via" enum:"staff_whatsapp_ai,api,dashboard" doc:"staff_whatsapp_ai: the staff member's WhatsApp chat, recorded by the AI there; api; dashboard"`
	StaffMemberID   string    `json:"staff_member_id,omitempty"`
	UserID          string    `json:"user_id,omitempty" doc:"the dashboard user"`
	AnsweredAt      time.Time `json:"answered_at"`
}

// Document categories with a meaning in the flows.
const (
	CategoryUserQuestion          = "UserQuestion"
	CategorySupportClassification = "SupportClassification"
)

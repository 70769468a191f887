// Package parley holds Parley's domain: the plain types every other package
// speaks (tenants, channels, customers, conversations, messages, events…) and
// the error codes the API returns. It imports nothing outside the standard
// library, so the store, the channels and the web layer can all depend on it.
package parley

import (
	"time"
)

// Tenant is one business using Parley. Everything else belongs to a tenant.
type Tenant struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Modules         []string        `json:"modules"`  // e.g. APPOINTMENTS
	Features        map[string]bool `json:"features"` // e.g. followups: true
	TimeZone        string          `json:"time_zone"`
	Availability    WeeklyHours     `json:"availability"`
	DefaultLanguage string          `json:"default_language"`
	CreatedAt       time.Time       `json:"created_at"`
}

// Module names a tenant can have switched on.
const (
	ModuleAppointments = "APPOINTMENTS"
)

// Feature flags a tenant can have switched on.
const (
	FeatureFollowUps = "followups"
)

// HasModule reports whether the tenant has the named module.
func (t Tenant) HasModule(name string) bool {
	for _, m := range t.Modules {
		if m == name {
			return true
		}
	}
	return false
}

// WeeklyHours is a weekly schedule in the tenant's time zone, keyed by the
// lower-case English weekday ("monday" … "sunday"). A day with no intervals
// is closed. An empty schedule means always open.
type WeeklyHours map[string][]Interval

// Interval is an opening within one day, as "HH:MM" local times; End is
// exclusive and may be "24:00".
type Interval struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// ChannelType is the kind of outside system a channel talks to.
type ChannelType string

const (
	ChannelWhatsApp ChannelType = "whatsapp" // Meta's WhatsApp Cloud API
	ChannelTwilio   ChannelType = "twilio"   // WhatsApp through Twilio
	ChannelEmail    ChannelType = "email"
	ChannelInApp    ChannelType = "inapp"
	ChannelWeb      ChannelType = "web"
)

// Valid reports whether t is a known channel type.
func (t ChannelType) Valid() bool {
	switch t {
	case ChannelWhatsApp, ChannelTwilio, ChannelEmail, ChannelInApp, ChannelWeb:
		return true
	}
	return false
}

// Channel is one of a tenant's ways to reach customers, e.g. one WhatsApp
// business number. Secrets (AccessToken, Settings["auth_token"]) are never
// shown by the API.
type Channel struct {
	ID            string      `json:"id"`
	TenantID      string      `json:"tenant_id"`
	Type          ChannelType `json:"type"`
	Name          string      `json:"name"`
	PhoneNumberID string      `json:"phone_number_id,omitempty"` // WhatsApp Cloud API routing key
	DisplayNumber string      `json:"display_number,omitempty"`
	AccessToken   string      `json:"-"`
	Active        bool        `json:"active"`
	TestSenders   []string    `json:"test_senders"` // E.164 numbers served even when inactive
	// Settings holds provider details that have no column of their own, such
	// as a Twilio account SID or a rate limit.
	Settings  map[string]string `json:"settings,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
}

// The ownership check's result lives in a WhatsApp channel's settings:
// SettingCheck is CheckOK once the Graph API answered for the number with
// the channel's token, CheckFailed when it refused. Parley writes these
// keys; the API never takes them from a tenant.
const (
	SettingCheck      = "check"
	SettingCheckError = "check_error"
	SettingCheckedAt  = "checked_at"
	SettingVerified   = "verified_name"
	CheckOK           = "ok"
	CheckFailed       = "failed"
)

// Verified reports whether the channel's token was shown to own its number;
// webhooks for a number go only to a verified channel.
func (c Channel) Verified() bool { return c.Settings[SettingCheck] == CheckOK }

// IsTestSender reports whether phone (E.164) is in the channel's test-sender list.
func (c Channel) IsTestSender(phone string) bool {
	for _, p := range c.TestSenders {
		if p == phone {
			return true
		}
	}
	return false
}

// Customer is a person a tenant talks to.
type Customer struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	Phone     string    `json:"phone"` // E.164
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Language  string    `json:"language"`
	CreatedAt time.Time `json:"created_at"`
}

// StaffMember is someone who works for the tenant and can be asked questions
// over WhatsApp (merchant notifications).
type StaffMember struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	Phone     string    `json:"phone"` // E.164
	Name      string    `json:"name"`
	Type      string    `json:"type"` // admin, sales, support, returns, …
	CreatedAt time.Time `json:"created_at"`
}

// StaffAdmin is the staff type every unrouted request falls back to.
const StaffAdmin = "admin"

// Agent is a human agent who takes over conversations through tickets.
type Agent struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Available bool      `json:"available"`
	CreatedAt time.Time `json:"created_at"`
}

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

// APIKey is a tenant's credential for /api. Only a hash of the secret is kept.
type APIKey struct {
	ID        string     `json:"id"`
	TenantID  string     `json:"tenant_id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"` // the first characters, to tell keys apart
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// WhatsApp's customer-service window: free-form messages may only be sent
// within 24 hours of the customer's last inbound message.
const ServiceWindow = 24 * time.Hour

// ErrOutsideWindow is returned when a free-form message would be sent to a
// contact whose service window is closed; only a template may go.
var ErrOutsideWindow = &Error{Code: CodeConflict, Message: "outside the 24-hour service window: only a template may be sent"}

// WindowOpen reports whether a free-form message may be sent at now to a
// contact whose last inbound message was at lastInbound (nil: never wrote).
func WindowOpen(lastInbound *time.Time, now time.Time) bool {
	return lastInbound != nil && now.Sub(*lastInbound) <= ServiceWindow
}

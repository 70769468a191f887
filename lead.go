package parley

import "time"

// This file holds the sales side of the domain: the websites leads come
// from, the leads themselves, the AI personas that write follow-ups for
// them, the commands those personas run, and the follow-up sequences that
// deliver what they wrote.

// Site is a tenant's website where leads and visitors originate. Its
// channels are how follow-ups reach its leads: an SMTP sender for e-mail
// and one of the tenant's WhatsApp channels.
type Site struct {
	ID       string `json:"id"`
	TenantID string `json:"tenant_id"`
	Name     string `json:"name"`
	URL      string `json:"url"`
	// Email is the site's SMTP sender; nil when the site sends no e-mail.
	Email *EmailSender `json:"email"`
	// WhatsAppChannelID names the tenant channel WhatsApp follow-ups go out on.
	WhatsAppChannelID string `json:"whatsapp_channel_id,omitempty"`
	// WhatsAppTemplate is the approved template sent when the lead's 24-hour
	// window is closed; its body takes the lead's first name and the
	// follow-up's title as {{1}} and {{2}}.
	WhatsAppTemplate *Template `json:"whatsapp_template,omitempty"`
	// SiteKey is a publishable key the site's pages use to fetch banners;
	// it reads nothing else.
	SiteKey   string    `json:"site_key"`
	CreatedAt time.Time `json:"created_at"`
}

// EmailSender is a site's SMTP configuration. The password never leaves
// the server.
type EmailSender struct {
	Host        string `json:"host"`
	Port        int    `json:"port"`
	Username    string `json:"username,omitempty"`
	Password    string `json:"-"`
	FromAddress string `json:"from_address"`
	FromName    string `json:"from_name,omitempty"`
	// TLS is starttls (the default: STARTTLS required), ssl (TLS from the
	// first byte, usually port 465), opportunistic, or none.
	TLS string `json:"tls"`
}

// SMTP TLS modes.
const (
	TLSStartTLS      = "starttls"
	TLSImplicit      = "ssl"
	TLSOpportunistic = "opportunistic"
	TLSNone          = "none"
)

// Lead is a prospective customer of a site.
type Lead struct {
	ID          string    `json:"id"`
	TenantID    string    `json:"tenant_id"`
	SiteID      string    `json:"site_id"`
	VisitorID   string    `json:"visitor_id,omitempty"`
	Name        string    `json:"name"`
	Company     string    `json:"company"`
	Position    string    `json:"position"`
	Email       string    `json:"email"`
	Phone       string    `json:"phone"` // E.164 when known
	PainPoints  []string  `json:"pain_points"`
	BudgetRange string    `json:"budget_range"`
	LeadStage   string    `json:"lead_stage"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Visitor is someone browsing a site, possibly known as a lead. In-app
// notifications and web banners are addressed to visitors.
type Visitor struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	SiteID    string    `json:"site_id"`
	LeadID    string    `json:"lead_id,omitempty"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// SiteUser is a sales representative working a site's leads.
type SiteUser struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	SiteID    string    `json:"site_id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
}

// Persona roles of a site's AI agents.
const (
	PersonaSales      = "sales"      // Sales/CRM Specialist: strategy and first draft
	PersonaCopywriter = "copywriter" // Content Creator & Copywriter: refines the copy
)

// LeadPersona is an AI persona of a site: who it is and how it writes.
type LeadPersona struct {
	ID       string `json:"id"`
	TenantID string `json:"tenant_id"`
	SiteID   string `json:"site_id"`
	Role     string `json:"role"` // PersonaSales or PersonaCopywriter
	Name     string `json:"name"`
	// Instructions are the persona's own brief, added to the system prompt.
	Instructions string `json:"instructions"`
	// UserID optionally ties the persona to the sales representative it writes for.
	UserID    string    `json:"user_id,omitempty"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
}

// Lead command statuses and modes.
const (
	LeadCommandRunning   = "running"
	LeadCommandCompleted = "completed"
	LeadCommandFailed    = "failed"

	LeadModeLLM     = "llm"
	LeadModeOffline = "offline" // the deterministic composer, no model involved
)

// LeadCommand is one run of an AI persona: one phase of writing a lead sequence.
type LeadCommand struct {
	ID          string         `json:"id"`
	TenantID    string         `json:"tenant_id"`
	SiteID      string         `json:"site_id"`
	LeadID      string         `json:"lead_id"`
	AgentID     string         `json:"agent_id,omitempty"` // empty in offline mode without a persona
	Kind        string         `json:"kind"`
	Status      string         `json:"status"`
	Mode        string         `json:"mode"`
	Input       map[string]any `json:"input"`
	Output      map[string]any `json:"output"`
	Error       string         `json:"error,omitempty"`
	Attempts    int            `json:"attempts"`
	CreatedAt   time.Time      `json:"created_at"`
	CompletedAt *time.Time     `json:"completed_at"`
}

// LeadContent is one channel's ready-to-send lead message.
type LeadContent struct {
	Title    string `json:"title"`
	Message  string `json:"message"`
	Strategy string `json:"strategy"`
}

// Follow-up channels, in the order a sequence delivers them.
const (
	LeadChannelEmail        = "email"
	LeadChannelWhatsApp     = "whatsapp"
	LeadChannelNotification = "notification"
	LeadChannelWeb          = "web"
)

// LeadChannels is every follow-up channel in delivery order.
var LeadChannels = []string{LeadChannelEmail, LeadChannelWhatsApp, LeadChannelNotification, LeadChannelWeb}

// Sequence statuses.
const (
	SequenceActive    = "active"
	SequenceCompleted = "completed"
	SequenceStopped   = "stopped"   // the lead replied
	SequenceCancelled = "cancelled" // by the API, or replaced by a newer sequence
)

// Step statuses.
const (
	StepScheduled = "scheduled"
	StepSent      = "sent"
	StepSkipped   = "skipped"
	StepFailed    = "failed"
	StepCancelled = "cancelled"
)

// Sequence delivers a follow-up's messages to a lead, one channel per
// step, a fixed interval apart, until it ends or the lead replies.
type Sequence struct {
	ID         string                 `json:"id"`
	TenantID   string                 `json:"tenant_id"`
	LeadID     string                 `json:"lead_id"`
	SiteID     string                 `json:"site_id"`
	VisitorID  string                 `json:"visitor_id,omitempty"`
	CommandID  string                 `json:"command_id"`
	Status     string                 `json:"status"`
	Interval   string                 `json:"interval"` // the spacing used, e.g. "3 days"
	IntervalS  int64                  `json:"interval_seconds"`
	Phone      string                 `json:"phone,omitempty"` // E.164 the WhatsApp step goes to
	Email      string                 `json:"email,omitempty"`
	Messages   map[string]LeadContent `json:"messages"`
	StopReason string                 `json:"stop_reason,omitempty"`
	StartedAt  time.Time              `json:"started_at"`
	EndedAt    *time.Time             `json:"ended_at"`
	Steps      []SequenceStep         `json:"steps"`
}

// SequenceStep is one delivery of a sequence.
type SequenceStep struct {
	ID         string     `json:"id"`
	SequenceID string     `json:"sequence_id"`
	Position   int        `json:"position"`
	Channel    string     `json:"channel"`
	Status     string     `json:"status"`
	DueAt      time.Time  `json:"due_at"`
	Detail     string     `json:"detail,omitempty"`
	DoneAt     *time.Time `json:"done_at"`
}

// LeadEvent is one entry in a lead's log: a follow-up generated, a
// sequence scheduled, a step's outcome, a reply.
type LeadEvent struct {
	ID         string         `json:"id"`
	TenantID   string         `json:"tenant_id"`
	LeadID     string         `json:"lead_id"`
	SequenceID string         `json:"sequence_id,omitempty"`
	Name       string         `json:"name"`
	Payload    map[string]any `json:"payload"`
	CreatedAt  time.Time      `json:"created_at"`
}

// VisitorMessage is an in-app notification or a web banner addressed to a
// visitor by a follow-up sequence.
type VisitorMessage struct {
	ID          string     `json:"id"`
	TenantID    string     `json:"tenant_id"`
	SiteID      string     `json:"site_id"`
	VisitorID   string     `json:"visitor_id"`
	LeadID      string     `json:"lead_id"`
	SequenceID  string     `json:"sequence_id"`
	Kind        string     `json:"kind"` // LeadChannelNotification or LeadChannelWeb
	Title       string     `json:"title"`
	Message     string     `json:"message"`
	CreatedAt   time.Time  `json:"created_at"`
	WithdrawnAt *time.Time `json:"withdrawn_at,omitempty"`
}

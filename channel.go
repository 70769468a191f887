package parley

import "time"

// ChannelType is the kind of outside system a channel talks to.
type ChannelType string

const (
	ChannelWhatsApp ChannelType = "whatsapp" // Meta's WhatsApp Cloud API
	ChannelTwilio   ChannelType = "twilio"   // WhatsApp through Twilio
	// ChannelInstagram is Instagram Direct: PhoneNumberID holds the
	// professional account's id (the routing key), and contacts are
	// Instagram-scoped ids (ContactInstagram), not phone numbers.
	ChannelInstagram ChannelType = "instagram"
	ChannelEmail     ChannelType = "email"
	ChannelInApp     ChannelType = "inapp"
	ChannelWeb       ChannelType = "web"
)

// Valid reports whether t is a known channel type.
func (t ChannelType) Valid() bool {
	switch t {
	case ChannelWhatsApp, ChannelTwilio, ChannelInstagram, ChannelEmail, ChannelInApp, ChannelWeb:
		return true
	}
	return false
}

// Channel is one of a tenant's ways to reach customers, e.g. one WhatsApp
// business number. Secrets (AccessToken, Settings["auth_token"]) are never
// shown by the API.
type Channel struct {
	ID       string      `json:"id"`
	TenantID string      `json:"tenant_id"`
	Type     ChannelType `json:"type"`
	Name     string      `json:"name"`
	// PhoneNumberID is the Meta routing key: a WhatsApp Cloud API
	// phone_number_id, or an Instagram channel's account id (shown by the
	// API as instagram_account_id).
	PhoneNumberID string   `json:"phone_number_id,omitempty"`
	DisplayNumber string   `json:"display_number,omitempty"`
	AccessToken   string   `json:"-"`
	Active        bool     `json:"active"`
	TestSenders   []string `json:"test_senders"` // E.164 numbers served even when inactive
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

// WhatsApp's customer-service window: free-form messages may only be sent
// within 24 hours of the customer's last inbound message.
const ServiceWindow = 24 * time.Hour

// HumanAgentWindow is how long after the customer's last message a reply a
// person wrote may still go on Instagram, with the HUMAN_AGENT tag.
const HumanAgentWindow = 7 * 24 * time.Hour

// ErrOutsideWindow is returned when a free-form message would be sent to a
// contact whose service window is closed; only a template may go.
var ErrOutsideWindow = &Error{Code: CodeConflict, Message: "outside the 24-hour service window: only a template may be sent"}

// ErrOutsideInstagramWindow is returned when a message would be sent on
// Instagram past what its window allows: nothing can go then, there are no
// templates on Instagram.
var ErrOutsideInstagramWindow = &Error{Code: CodeConflict, Message: "outside Instagram's messaging window (24 hours; 7 days for a person's reply): nothing can be sent"}

// WindowOpen reports whether a free-form message may be sent at now to a
// contact whose last inbound message was at lastInbound (nil: never wrote).
func WindowOpen(lastInbound *time.Time, now time.Time) bool {
	return lastInbound != nil && now.Sub(*lastInbound) <= ServiceWindow
}

// Window is a channel type's messaging rule: how long after the contact's
// last message the business may write. It is the one place these rules
// live; the send stage applies it to every message, and the parts that
// choose what to send (tickets, follow-ups, notifications, the dashboard)
// ask it first.
type Window struct {
	// Any is how long any free-form message may go.
	Any time.Duration
	// Human, when longer than Any, is how long a reply a person wrote
	// (RoleAgent) may go, tagged (Instagram's HUMAN_AGENT).
	Human time.Duration
	// Templates: an approved template may go at any time (WhatsApp).
	Templates bool
}

// Window is the messaging window of channels of type t: WhatsApp's 24-hour
// rule (templates at any time) for every type but Instagram, whose 24
// hours stretch to 7 days for a person's reply, and which has no templates.
func (t ChannelType) Window() Window {
	if t == ChannelInstagram {
		return Window{Any: ServiceWindow, Human: HumanAgentWindow}
	}
	return Window{Any: ServiceWindow, Templates: true}
}

// Allows reports whether a message by role (a template when template is
// set) may go at now to a contact whose last message was at last.
func (w Window) Allows(last *time.Time, role Role, template bool, now time.Time) bool {
	if template {
		return w.Templates
	}
	if last == nil {
		return false
	}
	age := now.Sub(*last)
	return age <= w.Any || (role == RoleAgent && age <= w.Human)
}

// NeedsTag reports whether a person's reply allowed at now goes past the
// 24 hours and must carry the human-agent tag.
func (w Window) NeedsTag(last *time.Time, role Role, now time.Time) bool {
	return role == RoleAgent && last != nil && now.Sub(*last) > w.Any && now.Sub(*last) <= w.Human
}

// Refusal is the error for a message Allows refused.
func (w Window) Refusal() *Error {
	if w.Templates {
		return ErrOutsideWindow
	}
	return ErrOutsideInstagramWindow
}

package parley

import "time"

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

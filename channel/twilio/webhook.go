// Package twilio is WhatsApp through Twilio's Programmable Messaging as a
// channel.Provider: it checks and parses the webhooks Twilio posts for a
// channel (inbound messages and status callbacks) into channel.Batch for
// the gateway to store, and sends messages through the Messages API.
//
// Section marks (§) name the parts of Twilio's Programmable Messaging
// documentation this package follows: §1 the inbound message webhook (and
// "Responding" to it), §2 signature validation (X-Twilio-Signature), §3
// status callbacks, §4 sending through the Messages API.
package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net"
	"net/url"
	"sort"
	"strings"

	"github.com/parleyhq/parley"
)

// Kind tells the two webhooks Twilio posts apart.
type Kind string

const (
	KindInbound Kind = "inbound" // a message from a contact (§1)
	KindStatus  Kind = "status"  // a status callback for a message we sent (§3)
)

// Event is one parsed webhook: exactly one of Inbound and Status is set,
// as Kind says.
type Event struct {
	Kind    Kind
	Inbound *Inbound
	Status  *StatusUpdate
}

// Inbound is a message a contact sent, shaped like the Cloud API adapter's
// so that the conversation flow does not care which one carried it.
type Inbound struct {
	AccountSID  string             // the Twilio account it came to; check it is the channel's
	To          string             // our sender, E.164
	From        string             // the contact, E.164
	ProfileName string             // the contact's WhatsApp profile name, may be empty
	MessageID   string             // MessageSid: the dedupe key
	Type        parley.MessageType // what kind of content (text, image, button…)
	Content     string             // the text, caption, button title or place
	ReplyToID   string             // the MessageSid of ours it quotes, if any
	Extra       map[string]any     // type-specific data; keys are the Extra* constants
}

// StatusUpdate is a status callback for a message we sent.
type StatusUpdate struct {
	AccountSID   string
	MessageID    string                // the sid the Messages API returned
	Status       parley.DeliveryStatus // Twilio's status mapped to Parley's
	TwilioStatus string                // Twilio's own word, e.g. "undelivered"
	ErrorCode    string                // e.g. "63016", with failures
	ErrorMessage string                // Twilio's text, or ours for known codes
}

// Keys of Inbound.Extra. Values are JSON-friendly: strings, numbers, bools,
// []any and map[string]any, so they survive a round trip through storage.
const (
	ExtraNumMedia            = "num_media"             // int
	ExtraMedia               = "media"                 // []any of {"url","content_type"}
	ExtraLatitude            = "latitude"              // float64
	ExtraLongitude           = "longitude"             // float64
	ExtraAddress             = "address"               // string
	ExtraLabel               = "label"                 // string
	ExtraButtonPayload       = "button_payload"        // string: the id we gave the button
	ExtraButtonText          = "button_text"           // string: what the contact saw
	ExtraReplyToSender       = "reply_to_sender"       // string
	ExtraForwarded           = "forwarded"             // bool
	ExtraFrequentlyForwarded = "frequently_forwarded"  // bool
	ExtraWaID                = "wa_id"                 // string: WhatsApp's digits-only id
	ExtraMessagingService    = "messaging_service_sid" // string
	ExtraReferral            = "referral"              // map[string]any of Referral* fields
	ExtraTwilioType          = "twilio_message_type"   // string: Twilio's MessageType as sent
	ExtraRaw                 = "raw"                   // map[string]any: the whole form, for kinds we do not model
)

// Sign computes the X-Twilio-Signature for a form POST to fullURL (§2):
// the URL, then every parameter's name and value in name order, HMAC-SHA1
// with the auth token, base64. Repeated names contribute each value in the
// order received. A GET webhook is signed with a nil form.
func Sign(authToken, fullURL string, form url.Values) string {
	names := make([]string, 0, len(form))
	for name := range form {
		names = append(names, name)
	}
	sort.Strings(names)

	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(fullURL))
	for _, name := range names {
		for _, v := range form[name] {
			mac.Write([]byte(name))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ValidateSignature reports whether header is Twilio's signature of form
// posted to fullURL: the public URL Twilio called, query string included.
// form holds the decoded body parameters, every one of them, known or not.
// Like Twilio's own libraries it also tries the URL with its port removed
// and with the scheme's default port added, since proxies disagree on
// which one Twilio saw. During an auth token rotation, call it once per
// token.
func ValidateSignature(authToken, fullURL string, form url.Values, header string) bool {
	if authToken == "" || header == "" {
		return false
	}
	for _, u := range urlVariants(fullURL) {
		if hmac.Equal([]byte(Sign(authToken, u, form)), []byte(header)) {
			return true
		}
	}
	return false
}

// urlVariants returns fullURL as given, then with its port removed, or
// with the scheme's default port added. Only the authority is rewritten, so
// the path and query stay byte for byte as Twilio signed them.
func urlVariants(fullURL string) []string {
	out := []string{fullURL}
	u, err := url.Parse(fullURL)
	scheme := strings.Index(fullURL, "://")
	if err != nil || u.Host == "" || scheme < 0 {
		return out
	}
	rest := fullURL[scheme+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	userinfo := ""
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		userinfo = rest[:at+1]
	}
	var host string
	switch port := u.Port(); {
	case port != "":
		host = u.Hostname()
		if strings.Contains(host, ":") { // an IPv6 literal keeps its brackets
			host = "[" + host + "]"
		}
	case strings.EqualFold(u.Scheme, "https"):
		host = net.JoinHostPort(u.Hostname(), "443")
	case strings.EqualFold(u.Scheme, "http"):
		host = net.JoinHostPort(u.Hostname(), "80")
	default:
		return out
	}
	return append(out, fullURL[:scheme+3]+userinfo+host+rest[end:])
}

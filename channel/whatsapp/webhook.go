package whatsapp

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/meta"
)

// Webhooks are received as every Meta channel's (package meta): these are
// meta's, kept here for callers of package whatsapp.
const (
	// MaxBodyBytes is the largest webhook body accepted (1 MiB).
	MaxBodyBytes = meta.MaxBodyBytes
	// SignatureHeader carries the body's HMAC-SHA256 (§2).
	SignatureHeader = meta.SignatureHeader
)

// Webhook checks of package meta (§1, §2).
var (
	VerifySignature = meta.VerifySignature
	VerifyChallenge = meta.VerifyChallenge
	ReadBody        = meta.ReadBody
)

// Errors returned by ReadBody and Parse. Callers branch with errors.Is.
var (
	ErrBodyTooLarge = meta.ErrBodyTooLarge
	ErrMalformed    = errors.New("whatsapp: malformed webhook payload")
	ErrWrongObject  = errors.New("whatsapp: webhook object is not " + ObjectWhatsApp)
)

// Batch is one webhook notification, flattened across entries and changes.
type Batch struct {
	Messages []Inbound
	Statuses []StatusUpdate
	Errors   []WebhookError
	// Skipped lists what was deliberately not reported (group messages,
	// unknown statuses, other change fields, items without an id…), for logs.
	Skipped []Skipped
}

// Inbound is one message a user sent to one of our numbers (§2.1).
type Inbound struct {
	PhoneNumberID string // our number, the routing key
	DisplayNumber string
	WABAID        string
	From          string // the sender's digits as sent, no "+"; may be empty when UserID is set
	UserID        string // business-scoped user id, for users with usernames
	ContactName   string
	MessageID     string // the wamid, the dedupe key
	Timestamp     time.Time
	Type          parley.MessageType
	// Content is the human-readable text: the body, the tapped button's
	// title, a caption (a document's filename when it has none), a
	// "location: …" line, a reaction's emoji.
	Content   string
	ReplyToID string // the wamid quoted or whose button was tapped
	// Extra holds the type's other fields (media id, mime type, button
	// payload, coordinates…); an unknown type's whole message is under "raw".
	Extra map[string]any
}

// StatusUpdate is a delivery receipt for a message we sent (§2.2). Statuses
// arrive out of order: apply them with parley.DeliveryStatus.Rank.
type StatusUpdate struct {
	PhoneNumberID string
	MessageID     string // our wamid
	Status        parley.DeliveryStatus
	Timestamp     time.Time
	RecipientID   string
	CallbackData  string // biz_opaque_callback_data, echoed
	ErrorCode     string // the Graph error code of a failed message, e.g. "131047"
	ErrorTitle    string
	ErrorDetail   string
}

// WebhookError is an out-of-band error Meta reports for a number (§2, value.errors).
type WebhookError struct {
	PhoneNumberID string
	WABAID        string
	Code          int
	Title         string
	Message       string
	Details       string
}

// Skipped is an item Parse did not report, and why.
type Skipped struct {
	PhoneNumberID string
	ID            string // the message or status id, when known
	Reason        string
}

// Parse decodes a webhook body whose signature was already verified. A body
// that is not JSON or not a WhatsApp notification gives an error wrapping
// ErrMalformed or ErrWrongObject; everything else gives a Batch, with
// anything unusable listed in Skipped. Parse never panics.
func Parse(body []byte) (*Batch, error) {
	if len(body) > MaxBodyBytes {
		return nil, ErrBodyTooLarge
	}
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if n.Object != ObjectWhatsApp {
		return nil, fmt.Errorf("%w: got %q", ErrWrongObject, n.Object)
	}
	b := &Batch{}
	for _, e := range n.Entry {
		for _, c := range e.Changes {
			b.addChange(e.ID, c)
		}
	}
	return b, nil
}

func (b *Batch) skip(phoneNumberID, id, format string, args ...any) {
	b.Skipped = append(b.Skipped, Skipped{PhoneNumberID: phoneNumberID, ID: id, Reason: fmt.Sprintf(format, args...)})
}

func (b *Batch) addChange(wabaID string, c Change) {
	if c.Field != FieldMessages {
		b.skip("", "", "field %q ignored", c.Field)
		return
	}
	var v Value
	if err := json.Unmarshal(c.Value, &v); err != nil {
		b.skip("", "", "malformed change value: %v", err)
		return
	}
	md := v.Metadata
	if md.PhoneNumberID == "" {
		b.skip("", "", "change without metadata.phone_number_id")
		return
	}
	var contacts []Contact
	_ = json.Unmarshal(v.Contacts, &contacts) // names are a nicety; a bad list only loses them

	for _, raw := range v.Messages {
		in, reason := parseMessage(raw, contacts)
		if reason != "" {
			b.skip(md.PhoneNumberID, in.MessageID, "%s", reason)
			continue
		}
		in.PhoneNumberID = md.PhoneNumberID
		in.DisplayNumber = md.DisplayPhoneNumber
		in.WABAID = wabaID
		b.Messages = append(b.Messages, in)
	}
	for _, raw := range v.Statuses {
		st, reason := parseStatus(raw)
		if reason != "" {
			b.skip(md.PhoneNumberID, st.MessageID, "%s", reason)
			continue
		}
		st.PhoneNumberID = md.PhoneNumberID
		b.Statuses = append(b.Statuses, st)
	}
	for _, raw := range v.Errors {
		var eo ErrorObject
		if err := json.Unmarshal(raw, &eo); err != nil {
			b.skip(md.PhoneNumberID, "", "malformed error: %v", err)
			continue
		}
		b.Errors = append(b.Errors, WebhookError{
			PhoneNumberID: md.PhoneNumberID,
			WABAID:        wabaID,
			Code:          eo.Code,
			Title:         eo.Title,
			Message:       eo.Message,
			Details:       eo.ErrorData.Details,
		})
	}
}

// parseStatus turns one statuses[] item into a StatusUpdate, or gives the
// reason it is skipped.
func parseStatus(raw json.RawMessage) (StatusUpdate, string) {
	var s Status
	if err := json.Unmarshal(raw, &s); err != nil {
		return StatusUpdate{MessageID: lenientID(raw)}, fmt.Sprintf("malformed status: %v", err)
	}
	if s.ID == "" {
		return StatusUpdate{}, "status without id"
	}
	var st parley.DeliveryStatus
	switch s.Status {
	case "sent":
		st = parley.StatusSent
	case "delivered":
		st = parley.StatusDelivered
	case "read":
		st = parley.StatusRead
	case "failed":
		st = parley.StatusFailed
	default:
		return StatusUpdate{MessageID: s.ID}, fmt.Sprintf("status %q ignored", s.Status)
	}
	ts, ok := s.Timestamp.time()
	if !ok {
		return StatusUpdate{MessageID: s.ID}, fmt.Sprintf("status with bad timestamp %q", s.Timestamp)
	}
	u := StatusUpdate{
		MessageID:    s.ID,
		Status:       st,
		Timestamp:    ts,
		RecipientID:  s.RecipientID,
		CallbackData: s.CallbackData,
	}
	if len(s.Errors) > 0 {
		e := s.Errors[0]
		u.ErrorCode = fmt.Sprint(e.Code)
		u.ErrorTitle = e.Title
		u.ErrorDetail = e.ErrorData.Details
		if u.ErrorDetail == "" {
			u.ErrorDetail = e.Message
		}
	}
	return u, ""
}

// time converts the timestamp to UTC; see unix.
func (t Timestamp) time() (time.Time, bool) {
	sec, nsec, ok := t.unix()
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(sec, nsec).UTC(), true
}

// lenientID digs an "id" string out of an item that failed to decode, so a
// skip can still name it.
func lenientID(raw json.RawMessage) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	var id string
	if json.Unmarshal(m["id"], &id) != nil {
		return ""
	}
	return id
}

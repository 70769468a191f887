package whatsapp

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/parleyhq/parley/channel/meta"
)

// The JSON wire types of the WhatsApp Cloud API. Section marks (§) are the
// parts of Meta's documentation listed in the package comment (doc.go).

// ObjectWhatsApp is the only `object` value a WhatsApp webhook carries (§2).
const ObjectWhatsApp = "whatsapp_business_account"

// FieldMessages is the change field that carries messages and statuses (§2).
const FieldMessages = "messages"

// Notification is the webhook envelope POSTed by Meta (§2).
type Notification struct {
	Object string  `json:"object"`
	Entry  []Entry `json:"entry"`
}

// Entry is one WhatsApp Business Account's batch of changes (§2, entry[]).
type Entry struct {
	ID      string   `json:"id"` // WABA ID
	Changes []Change `json:"changes"`
}

// Change is one entry[].changes[] item (§2). Value stays raw until Field
// says it is a messages change, so other fields never fail the batch.
type Change struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

// Value is the body of a "messages" change (§2). Items stay raw so that one
// odd message cannot spoil its neighbours: each is decoded on its own.
type Value struct {
	MessagingProduct string            `json:"messaging_product"`
	Metadata         Metadata          `json:"metadata"`
	Contacts         json.RawMessage   `json:"contacts"`
	Messages         []json.RawMessage `json:"messages"`
	Statuses         []json.RawMessage `json:"statuses"`
	Errors           []json.RawMessage `json:"errors"`
}

// Metadata names our business number; changes are routed by PhoneNumberID (§2).
type Metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

// Contact is a value.contacts[] item: the sender's profile (§2).
type Contact struct {
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
	WaID   string `json:"wa_id"`
	UserID string `json:"user_id,omitempty"`
}

// Message is an inbound user message, value.messages[] (§2.1).
type Message struct {
	ID         string          `json:"id"`
	From       string          `json:"from"`
	UserID     string          `json:"user_id,omitempty"`      // business-scoped user id (§2.1, courier)
	FromUserID string          `json:"from_user_id,omitempty"` // same, older name
	GroupID    string          `json:"group_id,omitempty"`     // group messages are skipped
	Timestamp  Timestamp       `json:"timestamp"`
	Type       string          `json:"type"`
	Context    *MessageContext `json:"context,omitempty"`

	Text        *Text           `json:"text,omitempty"`
	Interactive *InteractiveIn  `json:"interactive,omitempty"`
	Button      *ButtonIn       `json:"button,omitempty"`
	Image       *Media          `json:"image,omitempty"`
	Video       *Media          `json:"video,omitempty"`
	Sticker     *Media          `json:"sticker,omitempty"`
	Audio       *Media          `json:"audio,omitempty"`
	Voice       *Media          `json:"voice,omitempty"` // type "voice" (courier)
	Document    *Media          `json:"document,omitempty"`
	Location    *Location       `json:"location,omitempty"`
	Contacts    []SharedContact `json:"contacts,omitempty"`
	Reaction    *Reaction       `json:"reaction,omitempty"`
	Errors      []ErrorObject   `json:"errors,omitempty"`
	Referral    json.RawMessage `json:"referral,omitempty"` // click-to-WhatsApp ad; kept raw
}

// MessageContext points at the message replied to or whose button was tapped (§2.1).
type MessageContext struct {
	From      string `json:"from,omitempty"`
	ID        string `json:"id,omitempty"`
	Forwarded bool   `json:"forwarded,omitempty"`
}

// Text is the text message object (§2.1).
type Text struct {
	Body string `json:"body"`
}

// InteractiveIn is a reply to an interactive message (§2.1).
type InteractiveIn struct {
	Type        string       `json:"type"` // button_reply, list_reply, nfm_reply
	ButtonReply *ReplyChoice `json:"button_reply,omitempty"`
	ListReply   *ReplyChoice `json:"list_reply,omitempty"`
	NFMReply    *NFMReply    `json:"nfm_reply,omitempty"`
}

// ReplyChoice is the button or list row the user picked (§2.1).
type ReplyChoice struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// NFMReply is a WhatsApp Flows answer (§2.1, nfm_reply).
type NFMReply struct {
	Name         string `json:"name"`
	Body         string `json:"body"`
	ResponseJSON string `json:"response_json"`
}

// ButtonIn is a template quick-reply tap (§2.1, type "button").
type ButtonIn struct {
	Payload string `json:"payload"`
	Text    string `json:"text"`
}

// Media is the image/video/sticker/audio/document object (§2.1). The bytes are
// fetched later with GET /{version}/{media-id}.
type Media struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"` // documents
	Voice    bool   `json:"voice,omitempty"`    // audio recorded as a voice note
	Animated bool   `json:"animated,omitempty"` // stickers
	URL      string `json:"url,omitempty"`      // newer webhooks only
}

// Location is a shared location (§2.1). Coordinates are pointers so that a
// missing one is told apart from 0.
type Location struct {
	Latitude  *float64 `json:"latitude"`
	Longitude *float64 `json:"longitude"`
	Name      string   `json:"name,omitempty"`
	Address   string   `json:"address,omitempty"`
	URL       string   `json:"url,omitempty"`
}

// SharedContact is one vCard-like entry of a "contacts" message (§2.1, others).
type SharedContact struct {
	Name struct {
		FormattedName string `json:"formatted_name"`
		FirstName     string `json:"first_name,omitempty"`
		LastName      string `json:"last_name,omitempty"`
	} `json:"name"`
	Phones []struct {
		Phone string `json:"phone"`
		WaID  string `json:"wa_id,omitempty"`
		Type  string `json:"type,omitempty"`
	} `json:"phones,omitempty"`
}

// Reaction is an emoji reaction to one of our messages (§2.1, others). An
// empty Emoji means the reaction was removed.
type Reaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

// Status is a delivery receipt for one of our messages, value.statuses[] (§2.2).
type Status struct {
	ID            string        `json:"id"`
	Status        string        `json:"status"`
	Timestamp     Timestamp     `json:"timestamp"`
	RecipientID   string        `json:"recipient_id"`
	Conversation  *Conversation `json:"conversation,omitempty"`
	Pricing       *Pricing      `json:"pricing,omitempty"`
	CallbackData  string        `json:"biz_opaque_callback_data,omitempty"`
	Errors        []ErrorObject `json:"errors,omitempty"`
	RecipientUser string        `json:"recipient_user_id,omitempty"`
}

// Conversation is the billing conversation a status belongs to (§2.2).
type Conversation struct {
	ID                  string    `json:"id"`
	ExpirationTimestamp Timestamp `json:"expiration_timestamp,omitempty"`
	Origin              struct {
		Type string `json:"type"`
	} `json:"origin"`
}

// Pricing is a status's pricing block (§2.2).
type Pricing struct {
	Billable     bool   `json:"billable"`
	PricingModel string `json:"pricing_model"`
	Category     string `json:"category"`
}

// ErrorObject is an error inside a webhook: value.errors[], statuses[].errors[]
// or messages[].errors[] (§2, §2.2).
type ErrorObject struct {
	Code      int       `json:"code"`
	Title     string    `json:"title"`
	Message   string    `json:"message,omitempty"`
	ErrorData ErrorData `json:"error_data,omitempty"`
}

// ErrorData carries an error's details (§2.2, §4): package meta's.
type ErrorData = meta.ErrorData

// Timestamp is a Unix time that Meta sends as a string (§2.1); a bare JSON
// number is accepted too. It keeps the digits; see Time.
type Timestamp string

// UnmarshalJSON accepts "1760000000" and 1760000000.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = Timestamp(s)
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		*t = ""
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*t = Timestamp(n.String())
	return nil
}

// unix returns the timestamp in seconds, treating values of 1e12 and more as
// milliseconds (courier). ok is false for anything that is not a plausible
// positive time.
func (t Timestamp) unix() (sec, nsec int64, ok bool) {
	n, err := strconv.ParseInt(string(t), 10, 64)
	if err != nil || n <= 0 {
		return 0, 0, false
	}
	switch {
	case n < 1e12:
		return n, 0, true
	case n < 1e15: // milliseconds up to the year 33658
		return n / 1000, (n % 1000) * 1e6, true
	}
	return 0, 0, false
}

// SendRequest is the body of POST /{version}/{phone-number-id}/messages (§3).
type SendRequest struct {
	MessagingProduct string           `json:"messaging_product"`
	RecipientType    string           `json:"recipient_type"`
	To               string           `json:"to"`
	Type             string           `json:"type"`
	Context          *SendContext     `json:"context,omitempty"`
	Text             *SendText        `json:"text,omitempty"`
	Template         *SendTemplate    `json:"template,omitempty"`
	Interactive      *SendInteractive `json:"interactive,omitempty"`
	CallbackData     string           `json:"biz_opaque_callback_data,omitempty"`
}

// SendContext quotes an earlier message (§3, context.message_id).
type SendContext struct {
	MessageID string `json:"message_id"`
}

// SendText is an outbound text (§3).
type SendText struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url"`
}

// SendTemplate is an outbound template message (§3).
type SendTemplate struct {
	Name       string              `json:"name"`
	Language   TemplateLanguage    `json:"language"`
	Components []TemplateComponent `json:"components,omitempty"`
}

// TemplateLanguage names the approved template's language (§3).
type TemplateLanguage struct {
	Code string `json:"code"`
}

// TemplateComponent fills a template's body or one of its buttons (§3).
type TemplateComponent struct {
	Type       string              `json:"type"`               // body, button
	SubType    string              `json:"sub_type,omitempty"` // quick_reply for buttons
	Index      string              `json:"index,omitempty"`    // button position, as a string
	Parameters []TemplateParameter `json:"parameters"`
}

// TemplateParameter is one {{n}} value or one button payload (§3).
type TemplateParameter struct {
	Type    string `json:"type"` // text, payload
	Text    string `json:"text,omitempty"`
	Payload string `json:"payload,omitempty"`
}

// SendInteractive is an outbound reply-buttons or list message (§3).
type SendInteractive struct {
	Type   string             `json:"type"` // button, list
	Header *InteractiveHeader `json:"header,omitempty"`
	Body   InteractiveText    `json:"body"`
	Footer *InteractiveText   `json:"footer,omitempty"`
	Action InteractiveAction  `json:"action"`
}

// InteractiveHeader is a text header (§3).
type InteractiveHeader struct {
	Type string `json:"type"` // text
	Text string `json:"text"`
}

// InteractiveText is a body or footer (§3).
type InteractiveText struct {
	Text string `json:"text"`
}

// InteractiveAction holds reply buttons, or a list's button label and sections (§3).
type InteractiveAction struct {
	Buttons  []ReplyButton `json:"buttons,omitempty"`
	Button   string        `json:"button,omitempty"`
	Sections []ListSection `json:"sections,omitempty"`
}

// ReplyButton is one reply button (§3).
type ReplyButton struct {
	Type  string      `json:"type"` // reply
	Reply ReplyChoice `json:"reply"`
}

// ListSection is one section of a list message (§3).
type ListSection struct {
	Title string    `json:"title,omitempty"`
	Rows  []ListRow `json:"rows"`
}

// ListRow is one choice of a list message (§3).
type ListRow struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// MarkReadRequest marks an inbound message read, to the same endpoint as
// sends (§3, mark read).
type MarkReadRequest struct {
	MessagingProduct string           `json:"messaging_product"`
	Status           string           `json:"status"` // read
	MessageID        string           `json:"message_id"`
	TypingIndicator  *TypingIndicator `json:"typing_indicator,omitempty"`
}

// TypingIndicator shows "typing…" to the user until we answer (§3, courier).
type TypingIndicator struct {
	Type string `json:"type"` // text
}

// SendResponse is the 200 answer to a send (§3); Messages[0].ID is the wamid.
type SendResponse struct {
	MessagingProduct string `json:"messaging_product"`
	Contacts         []struct {
		Input string `json:"input"`
		WaID  string `json:"wa_id"`
	} `json:"contacts"`
	Messages []struct {
		ID            string `json:"id"`
		MessageStatus string `json:"message_status,omitempty"`
	} `json:"messages"`
}

// ErrorResponse is the Graph API error body (§4), and GraphError the
// error inside it: package meta's, the same for every Meta API.
type (
	ErrorResponse = meta.ErrorResponse
	GraphError    = meta.GraphError
)

// PhoneNumber is the answer to GET /{version}/{phone-number-id}?fields=… ,
// used to check a channel's credentials.
type PhoneNumber struct {
	ID                 string `json:"id"`
	DisplayPhoneNumber string `json:"display_phone_number"`
	VerifiedName       string `json:"verified_name"`
}

package instagram

import (
	"encoding/json"

	"github.com/parleyhq/parley/channel/meta"
)

// The JSON wire types of Instagram Direct messaging. Section marks (§) are
// those listed in the package comment (doc.go).

// ObjectInstagram is the `object` of an Instagram webhook (§1, §2).
const ObjectInstagram = "instagram"

// Notification is the webhook envelope POSTed by Meta (§2).
type Notification struct {
	Object string  `json:"object"`
	Entry  []Entry `json:"entry"`
}

// Entry is one business account's events (§2, entry[]). Messaging items
// stay raw so one odd item cannot spoil its neighbours.
type Entry struct {
	ID        string            `json:"id"` // the business's Instagram account id
	Time      int64             `json:"time"`
	Messaging []json.RawMessage `json:"messaging"`
}

// Messaging is one entry[].messaging[] event (§2): a message, a read, a
// reaction or a postback.
type Messaging struct {
	Sender    Party     `json:"sender"`
	Recipient Party     `json:"recipient"`
	Timestamp int64     `json:"timestamp"` // milliseconds
	Message   *Message  `json:"message,omitempty"`
	Read      *Read     `json:"read,omitempty"`
	Reaction  *Reaction `json:"reaction,omitempty"`
	Postback  *Postback `json:"postback,omitempty"`
}

// Party is a sender or recipient: an IGSID or the business's account id (§2, §6).
type Party struct {
	ID string `json:"id"`
}

// Message is a direct message (§2). Text, attachments and a quick-reply
// payload may come together.
type Message struct {
	MID           string       `json:"mid"`
	Text          string       `json:"text,omitempty"`
	Attachments   []Attachment `json:"attachments,omitempty"`
	QuickReply    *QuickReply  `json:"quick_reply,omitempty"`
	ReplyTo       *ReplyTo     `json:"reply_to,omitempty"`
	IsEcho        bool         `json:"is_echo,omitempty"`
	IsDeleted     bool         `json:"is_deleted,omitempty"`
	IsUnsupported bool         `json:"is_unsupported,omitempty"`
}

// Attachment is an image, video, audio, file, share, story mention, reel… (§2).
type Attachment struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"` // usually {"url": …}
}

// QuickReply is the payload of a tapped quick reply (§2).
type QuickReply struct {
	Payload string `json:"payload"`
}

// ReplyTo is the message or story replied to (§2).
type ReplyTo struct {
	MID   string `json:"mid,omitempty"`
	Story *Story `json:"story,omitempty"`
}

// Story is a story replied to (§2).
type Story struct {
	URL string `json:"url,omitempty"`
	ID  string `json:"id,omitempty"`
}

// Read is a read receipt: the customer read up to MID (§2).
type Read struct {
	MID string `json:"mid"`
}

// Reaction is an emoji reaction to a message (§2).
type Reaction struct {
	MID      string `json:"mid"`
	Action   string `json:"action"` // react, unreact
	Reaction string `json:"reaction,omitempty"`
	Emoji    string `json:"emoji,omitempty"`
}

// Postback is a tap on a button (§2).
type Postback struct {
	MID     string `json:"mid,omitempty"`
	Title   string `json:"title"`
	Payload string `json:"payload"`
}

// SendRequest is the body of POST /<account>/messages (§3, §4).
type SendRequest struct {
	Recipient     Party       `json:"recipient"`
	MessagingType string      `json:"messaging_type,omitempty"` // MESSAGE_TAG with Tag
	Tag           string      `json:"tag,omitempty"`            // HUMAN_AGENT
	Message       SendMessage `json:"message"`
}

// SendMessage is a text (with optional quick replies) or an attachment (§3).
type SendMessage struct {
	Text         string          `json:"text,omitempty"`
	QuickReplies []QuickReplyOut `json:"quick_replies,omitempty"`
	Attachment   *AttachmentOut  `json:"attachment,omitempty"`
}

// QuickReplyOut is one quick-reply button of a send (§3).
type QuickReplyOut struct {
	ContentType string `json:"content_type"` // text
	Title       string `json:"title"`
	Payload     string `json:"payload"`
}

// AttachmentOut is an attachment sent by URL (§3).
type AttachmentOut struct {
	Type    string            `json:"type"`
	Payload AttachmentPayload `json:"payload"`
}

// AttachmentPayload names the attachment's URL (§3).
type AttachmentPayload struct {
	URL string `json:"url"`
}

// SendResponse is the answer to a send (§3).
type SendResponse struct {
	RecipientID string `json:"recipient_id"`
	MessageID   string `json:"message_id"`
}

// Account is the answer to GET /<account>?fields=id,username,name (the
// ownership check).
type Account struct {
	ID       string `json:"id"`
	Username string `json:"username,omitempty"`
	Name     string `json:"name,omitempty"`
}

// ErrorResponse is the Graph error body (§5): package meta's, the same for
// every Meta API.
type ErrorResponse = meta.ErrorResponse

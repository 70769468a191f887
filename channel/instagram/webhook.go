package instagram

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/meta"
)

// Webhooks come from the same Meta app as WhatsApp's and are checked the
// same way (§1): these are package meta's, re-exported.
var (
	VerifySignature = meta.VerifySignature
	VerifyChallenge = meta.VerifyChallenge
	ReadBody        = meta.ReadBody
	ErrBodyTooLarge = meta.ErrBodyTooLarge
)

// SignatureHeader carries the body's HMAC-SHA256 under the app secret (§1).
const SignatureHeader = meta.SignatureHeader

// Errors returned by Parse.
var (
	ErrMalformed   = errors.New("instagram: malformed webhook payload")
	ErrWrongObject = errors.New("instagram: webhook object is not " + ObjectInstagram)
)

// MessageStoryMention is the type of a message that mentions the business
// in a story: no text, the story's URL in Extra.
const MessageStoryMention parley.MessageType = "story_mention"

// Batch is one webhook notification, flattened across entries.
type Batch struct {
	Messages []Inbound
	Reads    []ReadReceipt
	Deleted  []Deletion
	// Echoes are the business's own messages (sent by Parley or from the
	// Instagram app): recognised, never taken in as the customer's.
	Echoes  []Echo
	Skipped []Skipped
}

// Inbound is one message a customer sent to a business account (§2).
type Inbound struct {
	AccountID string // the business's account id, the routing key
	SenderID  string // the customer's IGSID (§6)
	MessageID string // mid, the dedupe key
	Timestamp time.Time
	Type      parley.MessageType
	Content   string
	ReplyToID string // the mid replied to
	// Extra holds attachments ([{type, url}]), a quick reply's payload
	// (interactive_id), a story replied to or mentioned, and for stories,
	// shares and unsupported messages the whole raw event under "raw".
	Extra map[string]any
}

// ReadReceipt says the customer read up to MessageID (§2, read).
type ReadReceipt struct {
	AccountID, SenderID, MessageID string
	Timestamp                      time.Time
}

// Deletion says the customer unsent MessageID (§2, is_deleted).
type Deletion struct {
	AccountID, SenderID, MessageID string
}

// Echo is a message the business sent (§2, is_echo).
type Echo struct {
	AccountID, RecipientID, MessageID string
}

// Skipped is an item Parse did not report, and why.
type Skipped struct {
	AccountID, ID, Reason string
}

// Parse decodes a webhook body whose signature was already verified. A body
// that is not JSON or not an Instagram notification gives an error wrapping
// ErrMalformed or ErrWrongObject; anything else gives a Batch, with what it
// could not use listed in Skipped. Parse never panics.
func Parse(body []byte) (*Batch, error) {
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if n.Object != ObjectInstagram {
		return nil, fmt.Errorf("%w: got %q", ErrWrongObject, n.Object)
	}
	b := &Batch{}
	for _, e := range n.Entry {
		for _, raw := range e.Messaging {
			b.add(e, raw)
		}
	}
	return b, nil
}

func (b *Batch) skip(account, id, format string, args ...any) {
	b.Skipped = append(b.Skipped, Skipped{AccountID: account, ID: id, Reason: fmt.Sprintf(format, args...)})
}

func (b *Batch) add(e Entry, raw json.RawMessage) {
	var m Messaging
	if err := json.Unmarshal(raw, &m); err != nil {
		b.skip(e.ID, "", "malformed messaging item: %v", err)
		return
	}
	account := e.ID
	ts := time.UnixMilli(m.Timestamp).UTC()
	if m.Timestamp == 0 {
		ts = time.UnixMilli(e.Time).UTC()
	}
	switch {
	case m.Message != nil:
		b.addMessage(account, m, ts, raw)
	case m.Read != nil:
		if account == "" {
			account = m.Recipient.ID
		}
		if m.Read.MID == "" || m.Sender.ID == "" || account == "" {
			b.skip(account, "", "read receipt without mid, sender or account")
			return
		}
		b.Reads = append(b.Reads, ReadReceipt{AccountID: account, SenderID: m.Sender.ID, MessageID: m.Read.MID, Timestamp: ts})
	case m.Reaction != nil:
		b.addReaction(account, m, ts)
	case m.Postback != nil:
		b.addPostback(account, m, ts)
	default:
		b.skip(account, "", "messaging item of no known kind")
	}
}

func (b *Batch) addMessage(account string, m Messaging, ts time.Time, raw json.RawMessage) {
	msg := m.Message
	if msg.IsEcho {
		// Sent by the business: the sender is the account, the recipient the customer.
		if account == "" {
			account = m.Sender.ID
		}
		b.Echoes = append(b.Echoes, Echo{AccountID: account, RecipientID: m.Recipient.ID, MessageID: msg.MID})
		return
	}
	if account == "" {
		account = m.Recipient.ID
	}
	switch {
	case account == "":
		b.skip("", msg.MID, "message without the business account id")
		return
	case msg.MID == "":
		b.skip(account, "", "message without mid")
		return
	case m.Sender.ID == "":
		b.skip(account, msg.MID, "message without sender")
		return
	}
	if msg.IsDeleted {
		b.Deleted = append(b.Deleted, Deletion{AccountID: account, SenderID: m.Sender.ID, MessageID: msg.MID})
		return
	}
	in := Inbound{AccountID: account, SenderID: m.Sender.ID, MessageID: msg.MID, Timestamp: ts, Type: parley.MessageText, Content: msg.Text}
	if msg.IsUnsupported {
		in.Type = parley.MessageUnknown
		in.setExtra("raw", raw)
		in.setExtra("original_type", "unsupported")
		b.Messages = append(b.Messages, in)
		return
	}
	if msg.ReplyTo != nil {
		in.ReplyToID = msg.ReplyTo.MID
		if s := msg.ReplyTo.Story; s != nil {
			in.setExtra("story", map[string]any{"id": s.ID, "url": s.URL})
			in.setExtra("story_reply", true)
			in.setExtra("raw", raw)
		}
	}
	if msg.QuickReply != nil && msg.QuickReply.Payload != "" {
		// A quick reply reads like a WhatsApp button reply: surveys find
		// the choice under interactive_id.
		in.Type = parley.MessageInteractive
		in.setExtra("interactive_type", "quick_reply")
		in.setExtra("interactive_id", msg.QuickReply.Payload)
	}
	if len(msg.Attachments) > 0 {
		fillAttachments(&in, msg, raw)
	}
	if in.Type == parley.MessageText && in.Content == "" {
		in.Type = parley.MessageUnknown
		in.setExtra("raw", raw)
	}
	b.Messages = append(b.Messages, in)
}

// fillAttachments keeps every attachment's type and URL; the message takes
// the first one's type when it has no text.
func fillAttachments(in *Inbound, msg *Message, raw json.RawMessage) {
	list := make([]any, 0, len(msg.Attachments))
	for _, a := range msg.Attachments {
		var p struct {
			URL string `json:"url"`
		}
		_ = json.Unmarshal(a.Payload, &p) // a payload without a URL keeps its type
		item := map[string]any{"type": a.Type}
		if p.URL != "" {
			item["url"] = p.URL
		}
		list = append(list, item)
	}
	in.setExtra("attachments", list)
	first := msg.Attachments[0].Type
	t, known := attachmentType(first)
	if first == "story_mention" {
		in.setExtra("raw", raw)
	}
	if !known {
		in.setExtra("raw", raw)
		in.setExtra("original_type", first)
	}
	if in.Type == parley.MessageText && msg.Text == "" {
		in.Type = t
	}
}

// attachmentType maps an attachment type onto Parley's message types;
// known is false for kinds Parley has no type for (share, ig_reel…).
func attachmentType(t string) (parley.MessageType, bool) {
	switch t {
	case "image":
		return parley.MessageImage, true
	case "video":
		return parley.MessageVideo, true
	case "audio":
		return parley.MessageAudio, true
	case "file":
		return parley.MessageDocument, true
	case "story_mention":
		return MessageStoryMention, true
	}
	return parley.MessageUnknown, false
}

func (b *Batch) addReaction(account string, m Messaging, ts time.Time) {
	r := m.Reaction
	if account == "" {
		account = m.Recipient.ID
	}
	if r.MID == "" || m.Sender.ID == "" || account == "" {
		b.skip(account, r.MID, "reaction without mid, sender or account")
		return
	}
	// A reaction has no id of its own: one per message, sender, action and instant.
	id := "reaction:" + r.MID + ":" + m.Sender.ID + ":" + r.Action + ":" + strconv.FormatInt(m.Timestamp, 10)
	in := Inbound{AccountID: account, SenderID: m.Sender.ID, MessageID: id, Timestamp: ts, Type: parley.MessageReaction, Content: r.Emoji}
	in.setExtra("reaction_message_id", r.MID)
	in.setExtra("emoji", r.Emoji)
	if r.Reaction != "" {
		in.setExtra("reaction", r.Reaction)
	}
	if r.Action == "unreact" {
		in.Content = ""
		in.setExtra("removed", true)
	}
	b.Messages = append(b.Messages, in)
}

func (b *Batch) addPostback(account string, m Messaging, ts time.Time) {
	p := m.Postback
	if account == "" {
		account = m.Recipient.ID
	}
	id := p.MID
	if id == "" {
		id = "postback:" + m.Sender.ID + ":" + strconv.FormatInt(m.Timestamp, 10)
	}
	if m.Sender.ID == "" || account == "" {
		b.skip(account, id, "postback without sender or account")
		return
	}
	in := Inbound{AccountID: account, SenderID: m.Sender.ID, MessageID: id, Timestamp: ts, Type: parley.MessageInteractive, Content: p.Title}
	in.setExtra("interactive_type", "postback")
	in.setExtra("interactive_id", p.Payload)
	b.Messages = append(b.Messages, in)
}

func (in *Inbound) setExtra(key string, v any) {
	if in.Extra == nil {
		in.Extra = map[string]any{}
	}
	in.Extra[key] = v
}

package channel

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/parleyhq/parley"
)

// Keys of parley.Message.Extra that outbound messages use.
const (
	// ExtraInteractive holds an Interactive (reply buttons or a list) as
	// JSON; the message's Content is its body text. Use WithInteractive.
	ExtraInteractive = "interactive"
	// ExtraReplyTo is the provider id of a message to quote.
	ExtraReplyTo = "reply_to"
	// ExtraTemplateButtonPayloads is a []string of a template's quick-reply
	// payloads, by button index (WhatsApp Cloud API only).
	ExtraTemplateButtonPayloads = "template_button_payloads"
)

// Interactive is a message with reply buttons (1–3) or a list (up to 10
// rows), as surveys and confirmations send them. Exactly one of Buttons and
// Sections is set.
type Interactive struct {
	Header     string    `json:"header,omitempty"`
	Footer     string    `json:"footer,omitempty"`
	Buttons    []Choice  `json:"buttons,omitempty"`
	ListButton string    `json:"list_button,omitempty"` // the label that opens a list
	Sections   []Section `json:"sections,omitempty"`
}

// Choice is a reply button or a list row. ID comes back in the contact's
// reply (Extra["interactive_id"] of the inbound message).
type Choice struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"` // list rows only
}

// Section is a titled group of list rows.
type Section struct {
	Title string   `json:"title,omitempty"`
	Rows  []Choice `json:"rows"`
}

// WithInteractive returns m carrying in, to be queued through Outbox.
func WithInteractive(m parley.Message, in Interactive) parley.Message {
	var asMap map[string]any
	b, _ := json.Marshal(in) // plain strings and slices always marshal
	_ = json.Unmarshal(b, &asMap)
	extra := make(map[string]any, len(m.Extra)+1)
	for k, v := range m.Extra {
		extra[k] = v
	}
	extra[ExtraInteractive] = asMap
	m.Extra = extra
	m.Type = parley.MessageInteractive
	return m
}

// InteractiveOf reads the Interactive a message carries (nil if none).
func InteractiveOf(m parley.Message) (*Interactive, error) {
	raw, ok := m.Extra[ExtraInteractive]
	if !ok || raw == nil {
		return nil, nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, parley.FieldError("extra.interactive", "unreadable: %v", err)
	}
	var in Interactive
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, parley.FieldError("extra.interactive", "unreadable: %v", err)
	}
	return &in, nil
}

// PlainText renders an interactive message as text, for channels that can
// only send interactive content through pre-approved templates (Twilio):
// the body, then one numbered line per choice. A reply then comes back as
// free text.
func PlainText(m parley.Message, in *Interactive) string {
	var b strings.Builder
	if in.Header != "" {
		b.WriteString(in.Header + "\n\n")
	}
	b.WriteString(m.Content)
	choices := in.Buttons
	for _, s := range in.Sections {
		choices = append(choices, s.Rows...)
	}
	for i, c := range choices {
		fmt.Fprintf(&b, "\n%d. %s", i+1, c.Title)
		if c.Description != "" {
			b.WriteString(" — " + c.Description)
		}
	}
	if in.Footer != "" {
		b.WriteString("\n\n" + in.Footer)
	}
	return b.String()
}

package channel

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/whatsapp"
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

func extraString(m parley.Message, key string) string {
	s, _ := m.Extra[key].(string)
	return s
}

func extraStrings(m parley.Message, key string) []string {
	list, _ := m.Extra[key].([]any)
	var out []string
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// whatsAppOutbound turns a stored message into the Cloud API's send: a
// template when it has one, reply buttons or a list when it carries an
// Interactive, text otherwise.
func whatsAppOutbound(to string, m parley.Message) (whatsapp.Outbound, error) {
	out := whatsapp.Outbound{To: to, ReplyTo: extraString(m, ExtraReplyTo), CallbackData: m.ID}
	if m.Template != nil {
		out.Template = m.Template
		out.TemplateButtonPayloads = extraStrings(m, ExtraTemplateButtonPayloads)
		return out, nil
	}
	in, err := InteractiveOf(m)
	if err != nil {
		return out, err
	}
	switch {
	case in == nil:
		out.Text = m.Content
	case len(in.Buttons) > 0:
		b := &whatsapp.Buttons{Header: in.Header, Body: m.Content, Footer: in.Footer}
		for _, c := range in.Buttons {
			b.Choices = append(b.Choices, whatsapp.Choice{ID: c.ID, Title: c.Title})
		}
		out.Buttons = b
	default:
		l := &whatsapp.List{Header: in.Header, Body: m.Content, Footer: in.Footer, Button: in.ListButton}
		for _, s := range in.Sections {
			sec := whatsapp.Section{Title: s.Title}
			for _, r := range s.Rows {
				sec.Rows = append(sec.Rows, whatsapp.Choice{ID: r.ID, Title: r.Title, Description: r.Description})
			}
			l.Sections = append(l.Sections, sec)
		}
		out.List = l
	}
	return out, nil
}

// plainText renders an interactive message as text, for channels that can
// only send interactive content through pre-approved templates (Twilio):
// the body, then one numbered line per choice. A reply then comes back as
// free text.
func plainText(m parley.Message, in *Interactive) string {
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

package whatsapp

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/parleyhq/parley"
)

// Outbound is one message to send. Exactly one of Text, Template, Buttons or
// List is set. Limits are checked by Validate before any HTTP call.
type Outbound struct {
	To           string // the recipient, E.164 with or without "+"
	ReplyTo      string // wamid to quote (context.message_id), optional
	CallbackData string // echoed back in statuses as biz_opaque_callback_data

	Text       string
	PreviewURL bool // let WhatsApp render a link preview for Text

	// Template is an approved template; Parameters fill {{1}}, {{2}}… of its
	// body in order. It is the only kind allowed outside the 24 h window.
	Template *parley.Template
	// TemplateButtonPayloads are the payloads of the template's quick-reply
	// buttons, by button index; they come back in a "button" message.
	TemplateButtonPayloads []string

	Buttons *Buttons // 1–3 reply buttons (surveys, confirmations)
	List    *List    // a list of up to 10 rows
}

// Buttons is an interactive reply-buttons message (§3).
type Buttons struct {
	Header  string // optional text header, ≤60 chars
	Body    string // ≤1024 chars
	Footer  string // optional, ≤60 chars
	Choices []Choice
}

// Choice is a reply button or a list row. Its ID comes back in the
// interactive reply; Title is shown (≤20 chars for buttons, ≤24 for rows).
type Choice struct {
	ID          string
	Title       string
	Description string // list rows only, ≤72 chars
}

// List is an interactive list message (§3).
type List struct {
	Header   string // optional text header, ≤60 chars
	Body     string // ≤4096 chars
	Footer   string // optional, ≤60 chars
	Button   string // the label that opens the list, ≤20 chars
	Sections []Section
}

// Section groups list rows; Title is required when there are several.
type Section struct {
	Title string // ≤24 chars
	Rows  []Choice
}

// Limits from Meta's message reference (§3 and the interactive message guides).
const (
	maxTextBody        = 4096
	maxButtonBody      = 1024
	maxHeaderFooter    = 60
	maxButtons         = 3
	maxButtonTitle     = 20
	maxButtonID        = 256
	maxListRows        = 10
	maxListSections    = 10
	maxRowTitle        = 24
	maxRowID           = 200
	maxRowDescription  = 72
	maxSectionTitle    = 24
	maxListButtonLabel = 20
	maxCallbackData    = 512
)

// Kind is the message type the send will have: text, template or interactive.
func (m Outbound) Kind() parley.MessageType {
	switch {
	case m.Template != nil:
		return parley.MessageTemplate
	case m.Buttons != nil, m.List != nil:
		return parley.MessageInteractive
	}
	return parley.MessageText
}

// Validate checks the message against WhatsApp's limits. It returns a
// *parley.Error (CodeValidation) naming the field; such errors are never
// retryable.
func (m Outbound) Validate() error {
	if err := validRecipient(m.To); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(m.CallbackData); n > maxCallbackData {
		return parley.FieldError("callback_data", "is %d characters, at most %d allowed", n, maxCallbackData)
	}
	kinds := 0
	for _, set := range []bool{m.Text != "", m.Template != nil, m.Buttons != nil, m.List != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return parley.FieldError("message", "exactly one of text, template, buttons or list must be set")
	}
	if m.Template == nil && len(m.TemplateButtonPayloads) > 0 {
		return parley.FieldError("template_button_payloads", "only allowed with a template")
	}
	switch {
	case m.Template != nil:
		return validTemplate(m.Template, m.TemplateButtonPayloads)
	case m.Buttons != nil:
		return validButtons(m.Buttons)
	case m.List != nil:
		return validList(m.List)
	}
	if strings.TrimSpace(m.Text) == "" {
		return parley.FieldError("text", "must not be blank")
	}
	return maxLen("text", m.Text, maxTextBody)
}

func validRecipient(to string) error {
	digits := strings.TrimPrefix(to, "+")
	if len(digits) < 6 || len(digits) > 15 {
		return parley.FieldError("to", "%q is not a phone number in E.164 form", to)
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return parley.FieldError("to", "%q is not a phone number in E.164 form", to)
		}
	}
	return nil
}

func maxLen(field, s string, n int) error {
	if c := utf8.RuneCountInString(s); c > n {
		return parley.FieldError(field, "is %d characters, at most %d allowed", c, n)
	}
	return nil
}

func required(field, s string, n int) error {
	if strings.TrimSpace(s) == "" {
		return parley.FieldError(field, "is required")
	}
	return maxLen(field, s, n)
}

func validTemplate(t *parley.Template, payloads []string) error {
	if err := required("template.name", t.Name, 512); err != nil {
		return err
	}
	if err := required("template.language", t.Language, 16); err != nil {
		return err
	}
	for i, p := range t.Parameters {
		field := "template.parameters[" + strconv.Itoa(i) + "]"
		// Meta rejects empty body parameters, and ones with new lines, tabs
		// or more than four consecutive spaces.
		if strings.TrimSpace(p) == "" {
			return parley.FieldError(field, "must not be blank")
		}
		if strings.ContainsAny(p, "\n\t") || strings.Contains(p, "     ") {
			return parley.FieldError(field, "must not hold new lines, tabs or more than 4 consecutive spaces")
		}
	}
	for i, p := range payloads {
		if err := required("template_button_payloads["+strconv.Itoa(i)+"]", p, 1000); err != nil {
			return err
		}
	}
	return nil
}

func validHeaderFooter(prefix, header, footer string) error {
	if err := maxLen(prefix+".header", header, maxHeaderFooter); err != nil {
		return err
	}
	return maxLen(prefix+".footer", footer, maxHeaderFooter)
}

func validButtons(b *Buttons) error {
	if err := required("buttons.body", b.Body, maxButtonBody); err != nil {
		return err
	}
	if err := validHeaderFooter("buttons", b.Header, b.Footer); err != nil {
		return err
	}
	if n := len(b.Choices); n < 1 || n > maxButtons {
		return parley.FieldError("buttons.choices", "has %d buttons, 1 to %d allowed", n, maxButtons)
	}
	return uniqueChoices("buttons.choices", b.Choices, maxButtonID, maxButtonTitle, false)
}

func validList(l *List) error {
	if err := required("list.body", l.Body, maxTextBody); err != nil {
		return err
	}
	if err := validHeaderFooter("list", l.Header, l.Footer); err != nil {
		return err
	}
	if err := required("list.button", l.Button, maxListButtonLabel); err != nil {
		return err
	}
	if n := len(l.Sections); n < 1 || n > maxListSections {
		return parley.FieldError("list.sections", "has %d sections, 1 to %d allowed", n, maxListSections)
	}
	var rows []Choice
	for i, s := range l.Sections {
		field := "list.sections[" + strconv.Itoa(i) + "]"
		if len(s.Rows) == 0 {
			return parley.FieldError(field+".rows", "must not be empty")
		}
		if len(l.Sections) > 1 && strings.TrimSpace(s.Title) == "" {
			return parley.FieldError(field+".title", "is required when a list has several sections")
		}
		if err := maxLen(field+".title", s.Title, maxSectionTitle); err != nil {
			return err
		}
		rows = append(rows, s.Rows...)
	}
	if len(rows) > maxListRows {
		return parley.FieldError("list.sections", "has %d rows, at most %d allowed", len(rows), maxListRows)
	}
	return uniqueChoices("list.rows", rows, maxRowID, maxRowTitle, true)
}

// uniqueChoices checks each choice's id and title, and that neither repeats:
// a reply only carries the id and title, so duplicates would be ambiguous.
func uniqueChoices(field string, cs []Choice, maxID, maxTitle int, rows bool) error {
	ids, titles := map[string]bool{}, map[string]bool{}
	for i, c := range cs {
		f := field + "[" + strconv.Itoa(i) + "]"
		if err := required(f+".id", c.ID, maxID); err != nil {
			return err
		}
		if err := required(f+".title", c.Title, maxTitle); err != nil {
			return err
		}
		if rows {
			if err := maxLen(f+".description", c.Description, maxRowDescription); err != nil {
				return err
			}
		} else if c.Description != "" {
			return parley.FieldError(f+".description", "reply buttons have no description")
		}
		if ids[c.ID] {
			return parley.FieldError(f+".id", "%q is used twice", c.ID)
		}
		if titles[c.Title] {
			return parley.FieldError(f+".title", "%q is used twice", c.Title)
		}
		ids[c.ID], titles[c.Title] = true, true
	}
	return nil
}

// request builds the wire body of a validated message (§3).
func (m Outbound) request() SendRequest {
	r := SendRequest{
		MessagingProduct: "whatsapp",
		RecipientType:    "individual",
		To:               m.To,
		CallbackData:     m.CallbackData,
	}
	if m.ReplyTo != "" {
		r.Context = &SendContext{MessageID: m.ReplyTo}
	}
	switch {
	case m.Template != nil:
		r.Type = "template"
		r.Template = templateRequest(m.Template, m.TemplateButtonPayloads)
	case m.Buttons != nil:
		r.Type = "interactive"
		r.Interactive = buttonsRequest(m.Buttons)
	case m.List != nil:
		r.Type = "interactive"
		r.Interactive = listRequest(m.List)
	default:
		r.Type = "text"
		r.Text = &SendText{Body: m.Text, PreviewURL: m.PreviewURL}
	}
	return r
}

func templateRequest(t *parley.Template, payloads []string) *SendTemplate {
	st := &SendTemplate{Name: t.Name, Language: TemplateLanguage{Code: t.Language}}
	if len(t.Parameters) > 0 {
		body := TemplateComponent{Type: "body"}
		for _, p := range t.Parameters {
			body.Parameters = append(body.Parameters, TemplateParameter{Type: "text", Text: p})
		}
		st.Components = append(st.Components, body)
	}
	for i, p := range payloads {
		st.Components = append(st.Components, TemplateComponent{
			Type:       "button",
			SubType:    "quick_reply",
			Index:      strconv.Itoa(i),
			Parameters: []TemplateParameter{{Type: "payload", Payload: p}},
		})
	}
	return st
}

func headerFooter(si *SendInteractive, header, footer string) {
	if header != "" {
		si.Header = &InteractiveHeader{Type: "text", Text: header}
	}
	if footer != "" {
		si.Footer = &InteractiveText{Text: footer}
	}
}

func buttonsRequest(b *Buttons) *SendInteractive {
	si := &SendInteractive{Type: "button", Body: InteractiveText{Text: b.Body}}
	headerFooter(si, b.Header, b.Footer)
	for _, c := range b.Choices {
		si.Action.Buttons = append(si.Action.Buttons, ReplyButton{Type: "reply", Reply: ReplyChoice{ID: c.ID, Title: c.Title}})
	}
	return si
}

func listRequest(l *List) *SendInteractive {
	si := &SendInteractive{Type: "list", Body: InteractiveText{Text: l.Body}}
	headerFooter(si, l.Header, l.Footer)
	si.Action.Button = l.Button
	for _, s := range l.Sections {
		sec := ListSection{Title: s.Title}
		for _, r := range s.Rows {
			sec.Rows = append(sec.Rows, ListRow{ID: r.ID, Title: r.Title, Description: r.Description})
		}
		si.Action.Sections = append(si.Action.Sections, sec)
	}
	return si
}

package whatsapptest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The fake's own view of a send body (Cloud API §3), kept apart from the
// client's wire types so that a mistake in one is caught by the other.
// Unknown fields are refused.
type body struct {
	MessagingProduct string `json:"messaging_product"`
	RecipientType    string `json:"recipient_type"`
	To               string `json:"to"`
	Type             string `json:"type"`
	Context          *struct {
		MessageID string `json:"message_id"`
	} `json:"context"`
	Text *struct {
		Body       string `json:"body"`
		PreviewURL bool   `json:"preview_url"`
	} `json:"text"`
	Template     *template    `json:"template"`
	Interactive  *interactive `json:"interactive"`
	CallbackData string       `json:"biz_opaque_callback_data"`

	// mark read
	Status          string `json:"status"`
	MessageID       string `json:"message_id"`
	TypingIndicator *struct {
		Type string `json:"type"`
	} `json:"typing_indicator"`
}

type template struct {
	Name     string `json:"name"`
	Language struct {
		Code string `json:"code"`
	} `json:"language"`
	Components []struct {
		Type       string `json:"type"`
		SubType    string `json:"sub_type"`
		Index      string `json:"index"`
		Parameters []struct {
			Type    string `json:"type"`
			Text    string `json:"text"`
			Payload string `json:"payload"`
		} `json:"parameters"`
	} `json:"components"`
}

type text struct {
	Text string `json:"text"`
}

type interactive struct {
	Type   string `json:"type"`
	Header *struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"header"`
	Body   *text `json:"body"`
	Footer *text `json:"footer"`
	Action struct {
		Buttons []struct {
			Type  string `json:"type"`
			Reply struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			} `json:"reply"`
		} `json:"buttons"`
		Button   string `json:"button"`
		Sections []struct {
			Title string `json:"title"`
			Rows  []struct {
				ID          string `json:"id"`
				Title       string `json:"title"`
				Description string `json:"description"`
			} `json:"rows"`
		} `json:"sections"`
	} `json:"action"`
}

// checkBody validates a POST …/messages body and returns either the send or
// the mark-read it holds.
func checkBody(raw []byte) (*SentMessage, *Read, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var b body
	if err := dec.Decode(&b); err != nil {
		return nil, nil, fmt.Errorf("body: %v", err)
	}
	if dec.More() {
		return nil, nil, errors.New("body: trailing data after the JSON object")
	}
	if b.MessagingProduct != "whatsapp" {
		return nil, nil, errors.New(`messaging_product must be "whatsapp"`)
	}
	if b.Status != "" || b.MessageID != "" {
		return checkRead(b)
	}
	m, err := checkSend(b)
	return m, nil, err
}

func checkRead(b body) (*SentMessage, *Read, error) {
	switch {
	case b.Status != "read":
		return nil, nil, errors.New(`status must be "read"`)
	case b.MessageID == "":
		return nil, nil, errors.New("message_id is required")
	case b.To != "" || b.Type != "":
		return nil, nil, errors.New("a read receipt has no to or type")
	case b.TypingIndicator != nil && b.TypingIndicator.Type != "text":
		return nil, nil, errors.New(`typing_indicator.type must be "text"`)
	}
	return nil, &Read{MessageID: b.MessageID, Typing: b.TypingIndicator != nil}, nil
}

func checkSend(b body) (*SentMessage, error) {
	if b.RecipientType != "" && b.RecipientType != "individual" {
		return nil, errors.New(`recipient_type must be "individual"`)
	}
	if d := strings.TrimPrefix(b.To, "+"); len(d) < 6 || len(d) > 15 || !isDigits(d) {
		return nil, fmt.Errorf("to %q is not an E.164 phone number", b.To)
	}
	objects := 0
	for _, set := range []bool{b.Text != nil, b.Template != nil, b.Interactive != nil} {
		if set {
			objects++
		}
	}
	if objects != 1 {
		return nil, errors.New("exactly one message object must be present")
	}
	m := &SentMessage{To: b.To, Type: b.Type, CallbackData: b.CallbackData}
	if b.Context != nil {
		if b.Context.MessageID == "" {
			return nil, errors.New("context.message_id is required")
		}
		m.ReplyTo = b.Context.MessageID
	}
	var err error
	switch {
	case b.Type == "text" && b.Text != nil:
		if err = length("text.body", b.Text.Body, 1, 4096); err == nil {
			m.Text, m.PreviewURL = b.Text.Body, b.Text.PreviewURL
		}
	case b.Type == "template" && b.Template != nil:
		m.Template, err = checkTemplate(b.Template)
	case b.Type == "interactive" && b.Interactive != nil:
		m.Interactive, m.Text, err = checkInteractive(b.Interactive)
	default:
		err = fmt.Errorf("type %q does not match the message object, or is not supported by the fake", b.Type)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

func length(field, s string, lo, hi int) error {
	if n := utf8.RuneCountInString(s); n < lo || n > hi || (lo > 0 && strings.TrimSpace(s) == "") {
		return fmt.Errorf("%s must have %d to %d characters, has %d", field, lo, hi, n)
	}
	return nil
}

func checkTemplate(t *template) (*Template, error) {
	if t.Name == "" || t.Language.Code == "" {
		return nil, errors.New("template.name and template.language.code are required")
	}
	out := &Template{Name: t.Name, Language: t.Language.Code}
	sawBody := false
	for i, c := range t.Components {
		switch {
		case c.Type == "body" && !sawBody:
			sawBody = true
			for _, p := range c.Parameters {
				if p.Type != "text" || strings.TrimSpace(p.Text) == "" || p.Payload != "" {
					return nil, fmt.Errorf("template body parameters must be non-empty text")
				}
				out.BodyParams = append(out.BodyParams, p.Text)
			}
		case c.Type == "button" && c.SubType == "quick_reply":
			if c.Index != fmt.Sprint(len(out.ButtonPayloads)) || len(c.Parameters) != 1 ||
				c.Parameters[0].Type != "payload" || c.Parameters[0].Payload == "" {
				return nil, fmt.Errorf("template component %d: quick_reply buttons need index %d and one payload", i, len(out.ButtonPayloads))
			}
			out.ButtonPayloads = append(out.ButtonPayloads, c.Parameters[0].Payload)
		default:
			return nil, fmt.Errorf("template component %d: type %q/%q not supported", i, c.Type, c.SubType)
		}
	}
	return out, nil
}

func checkInteractive(it *interactive) (*Interactive, string, error) {
	out := &Interactive{Type: it.Type}
	if it.Body == nil {
		return nil, "", errors.New("interactive.body is required")
	}
	if it.Header != nil {
		if it.Header.Type != "text" {
			return nil, "", errors.New(`interactive.header.type must be "text"`)
		}
		if err := length("interactive.header.text", it.Header.Text, 1, 60); err != nil {
			return nil, "", err
		}
		out.Header = it.Header.Text
	}
	if it.Footer != nil {
		if err := length("interactive.footer.text", it.Footer.Text, 1, 60); err != nil {
			return nil, "", err
		}
		out.Footer = it.Footer.Text
	}
	a := it.Action
	titles := map[string]bool{}
	ids := map[string]bool{}
	unique := func(id, title string) error {
		if ids[id] || titles[title] {
			return fmt.Errorf("button or row %q/%q is not unique", id, title)
		}
		ids[id], titles[title] = true, true
		return nil
	}
	switch it.Type {
	case "button":
		if err := length("interactive.body.text", it.Body.Text, 1, 1024); err != nil {
			return nil, "", err
		}
		if len(a.Buttons) < 1 || len(a.Buttons) > 3 || a.Button != "" || len(a.Sections) > 0 {
			return nil, "", errors.New("reply buttons need 1 to 3 action.buttons and nothing else")
		}
		for _, btn := range a.Buttons {
			if btn.Type != "reply" {
				return nil, "", errors.New(`action.buttons[].type must be "reply"`)
			}
			if err := errors.Join(length("reply.id", btn.Reply.ID, 1, 256), length("reply.title", btn.Reply.Title, 1, 20),
				unique(btn.Reply.ID, btn.Reply.Title)); err != nil {
				return nil, "", err
			}
			out.Choices = append(out.Choices, Choice{ID: btn.Reply.ID, Title: btn.Reply.Title})
		}
	case "list":
		if err := length("interactive.body.text", it.Body.Text, 1, 4096); err != nil {
			return nil, "", err
		}
		if err := length("action.button", a.Button, 1, 20); err != nil {
			return nil, "", err
		}
		if len(a.Sections) < 1 || len(a.Sections) > 10 || len(a.Buttons) > 0 {
			return nil, "", errors.New("a list needs 1 to 10 action.sections and no buttons")
		}
		out.Button = a.Button
		for _, s := range a.Sections {
			if len(s.Rows) == 0 || (len(a.Sections) > 1 && s.Title == "") || utf8.RuneCountInString(s.Title) > 24 {
				return nil, "", errors.New("each section needs rows, and a title of at most 24 characters when there are several")
			}
			for _, row := range s.Rows {
				if err := errors.Join(length("row.id", row.ID, 1, 200), length("row.title", row.Title, 1, 24),
					length("row.description", row.Description, 0, 72), unique(row.ID, row.Title)); err != nil {
					return nil, "", err
				}
				out.Choices = append(out.Choices, Choice{ID: row.ID, Title: row.Title, Description: row.Description, Section: s.Title})
			}
		}
		if len(out.Choices) > 10 {
			return nil, "", errors.New("a list has at most 10 rows in all")
		}
	default:
		return nil, "", fmt.Errorf("interactive.type %q is not supported by the fake", it.Type)
	}
	return out, it.Body.Text, nil
}

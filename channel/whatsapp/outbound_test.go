package whatsapp_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/whatsapp"
)

func choices(titles ...string) []whatsapp.Choice {
	var cs []whatsapp.Choice
	for i, t := range titles {
		cs = append(cs, whatsapp.Choice{ID: "id" + string(rune('a'+i)), Title: t})
	}
	return cs
}

func list(sections ...whatsapp.Section) *whatsapp.List {
	return &whatsapp.List{Body: "Pick one", Button: "Options", Sections: sections}
}

// Every limit is checked before any HTTP call, with a validation error that
// names the field and is never retryable.
func TestSendValidation(t *testing.T) {
	rows := func(n int) []whatsapp.Choice {
		var cs []whatsapp.Choice
		for i := range n {
			cs = append(cs, whatsapp.Choice{ID: "r" + string(rune('a'+i)), Title: "Row " + string(rune('A'+i))})
		}
		return cs
	}
	tpl := func(params ...string) *parley.Template {
		return &parley.Template{Name: "order_ready", Language: "pt_BR", Parameters: params}
	}
	tests := []struct {
		name  string
		msg   whatsapp.Outbound
		field string
	}{
		{"no recipient", whatsapp.Outbound{Text: "hi"}, "to"},
		{"recipient with letters", whatsapp.Outbound{To: "+55 11 9999", Text: "hi"}, "to"},
		{"recipient too long", whatsapp.Outbound{To: "+1234567890123456", Text: "hi"}, "to"},
		{"nothing to send", whatsapp.Outbound{To: ana}, "message"},
		{"blank text", whatsapp.Outbound{To: ana, Text: "  \n"}, "text"},
		{"text and template", whatsapp.Outbound{To: ana, Text: "hi", Template: tpl()}, "message"},
		{"text over 4096 characters", whatsapp.Outbound{To: ana, Text: strings.Repeat("é", 4097)}, "text"},
		{"callback data over 512", whatsapp.Outbound{To: ana, Text: "hi", CallbackData: strings.Repeat("x", 513)}, "callback_data"},
		{"button payloads without template", whatsapp.Outbound{To: ana, Text: "hi", TemplateButtonPayloads: []string{"X"}}, "template_button_payloads"},
		{"template without name", whatsapp.Outbound{To: ana, Template: &parley.Template{Language: "pt_BR"}}, "template.name"},
		{"template without language", whatsapp.Outbound{To: ana, Template: &parley.Template{Name: "order_ready"}}, "template.language"},
		{"template with an empty parameter", whatsapp.Outbound{To: ana, Template: tpl("Ana", "")}, "template.parameters[1]"},
		{"template parameter with a new line", whatsapp.Outbound{To: ana, Template: tpl("Ana\nLima")}, "template.parameters[0]"},
		{"template parameter with five spaces", whatsapp.Outbound{To: ana, Template: tpl("Ana     Lima")}, "template.parameters[0]"},
		{"template with an empty button payload", whatsapp.Outbound{To: ana, Template: tpl("Ana"), TemplateButtonPayloads: []string{""}}, "template_button_payloads[0]"},
		{"no buttons", whatsapp.Outbound{To: ana, Buttons: &whatsapp.Buttons{Body: "Sure?"}}, "buttons.choices"},
		{"four buttons", whatsapp.Outbound{To: ana, Buttons: &whatsapp.Buttons{Body: "Rate us", Choices: choices("1", "2", "3", "4")}}, "buttons.choices"},
		{"button title of 21 characters", whatsapp.Outbound{To: ana, Buttons: &whatsapp.Buttons{Body: "Sure?", Choices: choices(strings.Repeat("a", 21))}}, "buttons.choices[0].title"},
		{"duplicate button titles", whatsapp.Outbound{To: ana, Buttons: &whatsapp.Buttons{Body: "Sure?", Choices: choices("Yes", "Yes")}}, "buttons.choices[1].title"},
		{"duplicate button ids", whatsapp.Outbound{To: ana, Buttons: &whatsapp.Buttons{Body: "Sure?", Choices: []whatsapp.Choice{{ID: "a", Title: "Yes"}, {ID: "a", Title: "No"}}}}, "buttons.choices[1].id"},
		{"button id over 256", whatsapp.Outbound{To: ana, Buttons: &whatsapp.Buttons{Body: "Sure?", Choices: []whatsapp.Choice{{ID: strings.Repeat("i", 257), Title: "Yes"}}}}, "buttons.choices[0].id"},
		{"button body over 1024", whatsapp.Outbound{To: ana, Buttons: &whatsapp.Buttons{Body: strings.Repeat("b", 1025), Choices: choices("Yes")}}, "buttons.body"},
		{"button footer over 60", whatsapp.Outbound{To: ana, Buttons: &whatsapp.Buttons{Body: "Sure?", Footer: strings.Repeat("f", 61), Choices: choices("Yes")}}, "buttons.footer"},
		{"button with a description", whatsapp.Outbound{To: ana, Buttons: &whatsapp.Buttons{Body: "Sure?", Choices: []whatsapp.Choice{{ID: "a", Title: "Yes", Description: "d"}}}}, "buttons.choices[0].description"},
		{"list without button label", whatsapp.Outbound{To: ana, List: &whatsapp.List{Body: "Pick", Sections: []whatsapp.Section{{Rows: rows(1)}}}}, "list.button"},
		{"list without sections", whatsapp.Outbound{To: ana, List: list()}, "list.sections"},
		{"list with 11 rows", whatsapp.Outbound{To: ana, List: list(whatsapp.Section{Title: "A", Rows: rows(6)}, whatsapp.Section{Title: "B", Rows: rows(11)[6:]})}, "list.sections"},
		{"list section without rows", whatsapp.Outbound{To: ana, List: list(whatsapp.Section{Title: "A"})}, "list.sections[0].rows"},
		{"untitled section among several", whatsapp.Outbound{To: ana, List: list(whatsapp.Section{Title: "A", Rows: rows(1)}, whatsapp.Section{Rows: rows(2)[1:]})}, "list.sections[1].title"},
		{"row title over 24", whatsapp.Outbound{To: ana, List: list(whatsapp.Section{Rows: []whatsapp.Choice{{ID: "a", Title: strings.Repeat("t", 25)}}})}, "list.rows[0].title"},
		{"row description over 72", whatsapp.Outbound{To: ana, List: list(whatsapp.Section{Rows: []whatsapp.Choice{{ID: "a", Title: "A", Description: strings.Repeat("d", 73)}}})}, "list.rows[0].description"},
		{"duplicate row ids across sections", whatsapp.Outbound{To: ana, List: list(whatsapp.Section{Title: "A", Rows: rows(1)}, whatsapp.Section{Title: "B", Rows: []whatsapp.Choice{{ID: "ra", Title: "Other"}}})}, "list.rows[1].id"},
	}
	f := newFake(t)
	c := newClient(t, f, whatsapp.Config{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Send(t.Context(), token, pnID, tc.msg)
			var pe *parley.Error
			if !errors.As(err, &pe) || pe.Code != parley.CodeValidation || pe.Field != tc.field {
				t.Fatalf("err = %v; want a validation error on %q", err, tc.field)
			}
			if whatsapp.Retryable(err) {
				t.Error("a validation error must not be retryable")
			}
		})
	}
	if n := f.Requests(); n != 0 {
		t.Errorf("invalid messages reached the Graph API %d times", n)
	}
}

// The limits are inclusive: a message right at each limit goes through, and
// the fake (which checks the same limits on its own) accepts it.
func TestSendAtLimits(t *testing.T) {
	var rows []whatsapp.Choice
	for i := range 10 {
		rows = append(rows, whatsapp.Choice{ID: strings.Repeat("i", 199) + string(rune('a'+i)), Title: strings.Repeat("t", 23) + string(rune('a'+i)),
			Description: strings.Repeat("d", 72)})
	}
	msgs := []whatsapp.Outbound{
		{To: "+" + strings.Repeat("1", 15), Text: strings.Repeat("é", 4096)},
		{To: ana, Buttons: &whatsapp.Buttons{Header: strings.Repeat("h", 60), Body: strings.Repeat("b", 1024), Footer: strings.Repeat("f", 60),
			Choices: []whatsapp.Choice{{ID: strings.Repeat("a", 256), Title: strings.Repeat("1", 20)}, {ID: "b", Title: "2"}, {ID: "c", Title: "3"}}}},
		{To: ana, List: &whatsapp.List{Body: strings.Repeat("b", 4096), Button: strings.Repeat("B", 20), Sections: []whatsapp.Section{
			{Title: strings.Repeat("s", 24), Rows: rows[:5]}, {Title: "Second", Rows: rows[5:]}}}},
		{To: ana, Template: &parley.Template{Name: "order_ready", Language: "pt_BR", Parameters: []string{"Ana    Lima"}}},
	}
	f := newFake(t)
	c := newClient(t, f, whatsapp.Config{})
	for i, m := range msgs {
		if _, err := c.Send(t.Context(), token, pnID, m); err != nil {
			t.Errorf("message %d at the limits: %v", i, err)
		}
	}
}

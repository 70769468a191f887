// Package notify is the merchant notifications: when the AI agent cannot
// answer a customer, it asks the tenant's own staff over WhatsApp (routed
// by the kind of request), takes the first answer (from a staff member's
// chat, the API or the dashboard), grows the knowledge base with it, and
// brings it back to the customer in their language, by template outside
// WhatsApp's 24-hour window and through the AI agent inside it.
package notify

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/campaign"
)

// Party says who receives a notification's request or answer.
type Party string

const (
	PartyStaff    Party = "staff"    // the tenant's staff members, in their staff conversations
	PartyCustomer Party = "customer" // the customer of the conversation that raised it
)

// Field is one requested or answered field.
type Field struct {
	Name        string
	Label       string // for people and prompts: "Question"
	Description string // what to put in it, for staff, the API and the AI
	MaxLength   int    // in characters
	Optional    bool   // may be left out or empty (answered fields only)
}

// Spec is one notification type's entry in the configuration table.
type Spec struct {
	Type      parley.NotificationType
	Label     string // for people: "Customer question"
	Requested []Field
	Answered  []Field
	// CustomerField is the answered field whose text goes to the customer;
	// the other answered fields are internal notes.
	CustomerField string
	RequestTo     Party
	AnswerTo      Party
	// Purposes names the template purpose sent for each status (the
	// tenant maps each to a template, package campaign): requested → to
	// staff; answered → to the customer outside the 24-hour window.
	Purposes      map[parley.NotificationStatus]campaign.Purpose
	AllowMultiple bool
}

// maxAnswer is the longest answer text accepted, below WhatsApp's 4096
// characters for a text message.
const maxAnswer = 4000

// Specs is the configuration table: one entry per notification type.
var specs = []Spec{
	{
		Type:          parley.NotificationQuestion,
		Label:         "Customer question",
		Requested:     []Field{{Name: "question", Label: "Question", Description: "the customer's question the knowledge base does not answer", MaxLength: 2000}},
		Answered:      []Field{{Name: "answer", Description: "the answer to the customer's question, as the staff member gave it", MaxLength: maxAnswer}},
		CustomerField: "answer",
		RequestTo:     PartyStaff,
		AnswerTo:      PartyCustomer,
		Purposes: map[parley.NotificationStatus]campaign.Purpose{
			parley.NotificationRequested: campaign.StaffQuestionRequest,
			parley.NotificationAnswered:  campaign.QuestionAnswer,
		},
	},
	{
		Type:      parley.NotificationSupport,
		Label:     "Support request",
		Requested: []Field{{Name: "support_request_reason", Label: "Support request", Description: "what the customer needs that the AI agent cannot solve", MaxLength: 2000}},
		Answered: []Field{
			{Name: "agent_response_to_customer", Description: "what to tell the customer", MaxLength: maxAnswer},
			{Name: "resolution_notes", Description: "internal notes on how it was resolved (not sent to the customer; may be empty)", MaxLength: maxAnswer, Optional: true},
		},
		CustomerField: "agent_response_to_customer",
		RequestTo:     PartyStaff,
		AnswerTo:      PartyCustomer,
		Purposes: map[parley.NotificationStatus]campaign.Purpose{
			parley.NotificationRequested: campaign.StaffSupportRequest,
			parley.NotificationAnswered:  campaign.SupportAnswer,
		},
	},
}

// SpecOf returns the configuration of a type.
func SpecOf(t parley.NotificationType) (Spec, bool) {
	for _, s := range specs {
		if s.Type == t {
			return s, true
		}
	}
	return Spec{}, false
}

// Types lists the notification types, in table order.
func Types() []parley.NotificationType {
	out := make([]parley.NotificationType, len(specs))
	for i, s := range specs {
		out[i] = s.Type
	}
	return out
}

// AnswerSchema is the JSON Schema a valid answer matches: an object with
// exactly the answered fields, each a string with some non-space text.
func (s Spec) AnswerSchema() map[string]any {
	props := map[string]any{}
	required := []string{}
	for _, f := range s.Answered {
		if f.Optional {
			props[f.Name] = map[string]any{"type": "string", "description": f.Description, "maxLength": f.MaxLength}
			continue
		}
		props[f.Name] = map[string]any{"type": "string", "description": f.Description, "minLength": 1, "maxLength": f.MaxLength, "pattern": `\S`}
		required = append(required, f.Name)
	}
	return map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false}
}

// resolved is a spec's answer schema, ready to validate.
func (s Spec) resolved() (*jsonschema.Resolved, error) {
	b, err := json.Marshal(s.AnswerSchema())
	if err != nil {
		return nil, err
	}
	var js jsonschema.Schema
	if err := json.Unmarshal(b, &js); err != nil {
		return nil, err
	}
	return js.Resolve(nil)
}

// ValidateRequest checks the requested fields: every one present and not
// blank, none too long, no others. It returns them trimmed.
func (s Spec) ValidateRequest(in map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range s.Requested {
		v := strings.TrimSpace(in[f.Name])
		if v == "" {
			return nil, parley.FieldError("context."+f.Name, "is required for %s", s.Type)
		}
		if !utf8.ValidString(v) {
			return nil, parley.FieldError("context."+f.Name, "is not valid UTF-8")
		}
		if n := utf8.RuneCountInString(v); n > f.MaxLength {
			return nil, parley.FieldError("context."+f.Name, "is %d characters long; at most %d", n, f.MaxLength)
		}
		out[f.Name] = v
	}
	for k := range in {
		if _, ok := out[k]; !ok {
			return nil, parley.FieldError("context."+k, "is not a field of %s (expected %s)", s.Type, names(s.Requested))
		}
	}
	return out, nil
}

// ValidateAnswer checks an answer (a decoded JSON object) against the
// type's answer schema and returns its fields trimmed. Errors are
// validation errors naming the field.
func (s Spec) ValidateAnswer(in map[string]any) (map[string]string, error) {
	rs, err := s.resolved()
	if err != nil {
		return nil, fmt.Errorf("answer schema of %s: %w", s.Type, err)
	}
	if in == nil {
		in = map[string]any{}
	}
	if err := rs.Validate(in); err != nil {
		return nil, &parley.Error{Code: parley.CodeValidation, Field: answerField(s, in), Message: "the answer does not match the schema of " + string(s.Type) + ": " + err.Error()}
	}
	out := map[string]string{}
	for _, f := range s.Answered {
		v, _ := in[f.Name].(string)
		// The schema's \S is ASCII-only: a field of Unicode spaces (no-break,
		// em space…) passes it but is still blank.
		if v = strings.TrimSpace(v); v != "" {
			out[f.Name] = v
		} else if !f.Optional {
			return nil, parley.FieldError(f.Name, "is blank: the answer needs some text")
		}
	}
	return out, nil
}

// answerField guesses which field a failed validation is about, for the
// error's field: the first missing, mistyped, blank or unknown one.
func answerField(s Spec, in map[string]any) string {
	for _, f := range s.Answered {
		raw, present := in[f.Name]
		v, ok := raw.(string)
		if (present && !ok) || utf8.RuneCountInString(v) > f.MaxLength || (!f.Optional && strings.TrimSpace(v) == "") {
			return f.Name
		}
	}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !hasField(s.Answered, k) {
			return k
		}
	}
	return ""
}

func hasField(fs []Field, name string) bool {
	for _, f := range fs {
		if f.Name == name {
			return true
		}
	}
	return false
}

func names(fs []Field) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return strings.Join(out, ", ")
}

// Package campaign is the templates a business controls: which approved
// WhatsApp template each outbound purpose sends (per tenant and channel
// type), checked against the templates the Business Account holds.
package campaign

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/store"
)

// Purpose is an outbound message that may need a template: one sent
// outside the 24-hour window, or to staff who never wrote first.
type Purpose string

const (
	StaffQuestionRequest Purpose = "staff_question_request" // a customer question staff are asked to answer
	StaffSupportRequest  Purpose = "staff_support_request"  // a support request staff are asked to handle
	QuestionAnswer       Purpose = "question_answer"        // staff's answer to a customer's question, outside the window
	SupportAnswer        Purpose = "support_answer"         // staff's answer to a support request, outside the window
	FollowUp             Purpose = "follow_up"              // a follow-up outside the window (when the rule names no template)
	LeadWhatsAppStep     Purpose = "lead_whatsapp_step"     // a lead sequence's WhatsApp step outside the window (when the site names none)
)

// Spec is what a purpose offers a template: the values its parameters may
// take, and today's built-in template.
type Spec struct {
	Purpose     Purpose  `json:"purpose"`
	Description string   `json:"description"`
	Values      []string `json:"values"`
}

var specs = []Spec{
	{StaffQuestionRequest, "asks staff to answer a customer's question", []string{"ref", "request_type", "request"}},
	{StaffSupportRequest, "asks staff to handle a support request", []string{"ref", "request_type", "request"}},
	{QuestionAnswer, "brings staff's answer to a customer's question outside the 24-hour window", []string{"question", "answer", "answer_fragment"}},
	{SupportAnswer, "brings staff's answer to a support request outside the 24-hour window", []string{"request", "answer", "answer_fragment"}},
	{FollowUp, "a follow-up outside the 24-hour window, for rules that name no template", []string{"customer_name", "message"}},
	{LeadWhatsAppStep, "a lead sequence's WhatsApp step outside the 24-hour window, for sites that name no template", []string{"first_name", "title"}},
}

// Specs lists the purposes.
func Specs() []Spec { return slices.Clone(specs) }

// SpecOf returns a purpose's spec.
func SpecOf(p Purpose) (Spec, bool) {
	for _, s := range specs {
		if s.Purpose == p {
			return s, true
		}
	}
	return Spec{}, false
}

// templateTypes are the channel types that send WhatsApp templates.
var templateTypes = []parley.ChannelType{parley.ChannelWhatsApp, parley.ChannelTwilio}

// Reason codes of a purpose that is not sent; the text says more.
const (
	ReasonNoMapping = "no_template_mapping"
	ReasonDisabled  = "template_mapping_disabled"
)

// Skip is a purpose not sent for want of a usable template.
type Skip struct {
	Code    string `json:"code"`
	Purpose string `json:"purpose"`
	Message string `json:"message"`
}

func (s *Skip) Error() string { return s.Message }

// EventTemplateSkipped is logged in the conversation whose message was not
// sent for want of a template.
const EventTemplateSkipped = "Template Skipped"

// SkipPayload is EventTemplateSkipped's payload.
type SkipPayload struct {
	Code     string `json:"code"`
	Purpose  string `json:"purpose"`
	Reason   string `json:"reason"`
	ObjectID string `json:"object_id,omitempty"` // the notification, follow-up or sequence step concerned
}

// EventNames makes it an event.Payload.
func (SkipPayload) EventNames() []string { return []string{EventTemplateSkipped} }

// SkipEvent is the event payload of a skip.
func SkipEvent(s Skip, objectID string) SkipPayload {
	return SkipPayload{Code: s.Code, Purpose: s.Purpose, Reason: s.Message, ObjectID: objectID}
}

// Resolve returns the template the tenant sends for a purpose on the given
// channel, its parameters filled from values (by the mapping's names). A
// purpose with no enabled mapping returns a *Skip: the caller records its
// reason and sends nothing ("no campaign configured: log a warning, return
// early"). lang is used when the mapping names no language.
func Resolve(ctx context.Context, q *store.Queries, tenantID, channelID string, p Purpose, values map[string]string, lang string) (*parley.Template, error) {
	typ := parley.ChannelWhatsApp
	if channelID != "" {
		ch, err := q.GetChannel(ctx, tenantID, channelID)
		if err != nil && parley.ErrorCode(err) != parley.CodeNotFound {
			return nil, fmt.Errorf("template for %s: %w", p, err)
		}
		if err == nil {
			typ = ch.Type
		}
	}
	m, err := q.TemplateMappingFor(ctx, tenantID, string(p), string(typ))
	switch {
	case parley.ErrorCode(err) == parley.CodeNotFound:
		return nil, &Skip{Code: ReasonNoMapping, Purpose: string(p),
			Message: fmt.Sprintf("no template is mapped for %s on %s channels: nothing sent", p, typ)}
	case err != nil:
		return nil, fmt.Errorf("template for %s: %w", p, err)
	case !m.Enabled || strings.TrimSpace(m.Name) == "":
		return nil, &Skip{Code: ReasonDisabled, Purpose: string(p),
			Message: fmt.Sprintf("the template mapping for %s on %s channels is disabled: nothing sent", p, typ)}
	}
	t := &parley.Template{Name: m.Name, Language: m.Language, Parameters: make([]string, 0, len(m.Parameters))}
	if t.Language == "" {
		t.Language = lang
	}
	for _, name := range m.Parameters {
		t.Parameters = append(t.Parameters, values[name])
	}
	return t, nil
}

// Defaults are the built-in mappings (see store.DefaultTemplateMappings).
func Defaults(tenantID string) []store.TemplateMapping {
	return store.DefaultTemplateMappings(tenantID)
}

// Error codes of a mapping refused at save (error.field carries them, the
// message the reason).
const (
	CodeUnknownPurpose    = "unknown_purpose"
	CodeUnknownValue      = "unknown_parameter_value"
	CodeNotSynced         = "template_not_synced"
	CodeNotApproved       = "template_not_approved"
	CodeParameterMismatch = "parameter_count_mismatch"
)

// Refusal is a mapping refused at save.
type Refusal struct {
	Code    string
	Message string
}

// Check validates a mapping before it is saved: a known purpose and
// channel type, parameters naming the purpose's values, and, when the
// tenant has synced its WhatsApp templates, an approved template of that
// name and language whose body takes exactly as many parameters.
func Check(ctx context.Context, q *store.Queries, m store.TemplateMapping) (*Refusal, error) {
	spec, ok := SpecOf(Purpose(m.Purpose))
	if !ok {
		return &Refusal{CodeUnknownPurpose, fmt.Sprintf("unknown purpose %q", m.Purpose)}, nil
	}
	if !slices.Contains(templateTypes, parley.ChannelType(m.ChannelType)) {
		return &Refusal{"unknown_channel_type", fmt.Sprintf("channel type %q sends no WhatsApp templates (whatsapp or twilio)", m.ChannelType)}, nil
	}
	for _, p := range m.Parameters {
		if !slices.Contains(spec.Values, p) {
			return &Refusal{CodeUnknownValue, fmt.Sprintf("parameter %q is not a value of %s (one of %s)", p, m.Purpose, strings.Join(spec.Values, ", "))}, nil
		}
	}
	if !m.Enabled || m.ChannelType != string(parley.ChannelWhatsApp) {
		return nil, nil // Twilio's templates are not listed by the Graph API
	}
	synced, err := q.SyncedTemplates(ctx, m.TenantID)
	if err != nil || len(synced) == 0 {
		return nil, err // never synced: nothing to check against
	}
	var found *store.SyncedTemplate
	for i, t := range synced {
		if t.Name == m.Name && (m.Language == "" || t.Language == m.Language) {
			if found == nil || strings.EqualFold(t.Status, "APPROVED") {
				found = &synced[i]
			}
		}
	}
	switch {
	case found == nil:
		return &Refusal{CodeNotSynced, fmt.Sprintf("the WhatsApp Business Account has no template %q in language %q (sync the templates if it was just created)", m.Name, m.Language)}, nil
	case !strings.EqualFold(found.Status, "APPROVED"):
		return &Refusal{CodeNotApproved, fmt.Sprintf("template %q (%s) is %s, not approved", found.Name, found.Language, found.Status)}, nil
	case found.BodyParams != len(m.Parameters):
		return &Refusal{CodeParameterMismatch, fmt.Sprintf("template %q (%s) takes %d body parameters; the mapping gives %d", found.Name, found.Language, found.BodyParams, len(m.Parameters))}, nil
	}
	return nil, nil
}

// Catalog lists the campaign events for `parley events` and webhooks.
func Catalog() []event.Entry {
	return append([]event.Entry{
		{Name: EventTemplateSkipped, Type: "event", Summary: "A message needing a template was not sent: the tenant maps no enabled template to its purpose.",
			Payload: reflect.TypeFor[SkipPayload]()},
	}, broadcastCatalog()...)
}

package leads

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/phone"
	"github.com/parleyhq/parley/store"
)

// Request is a parsed, validated follow-up request. Every field name is
// accepted in camelCase and in snake_case, as the original API did.
type Request struct {
	SiteID    string
	LeadID    string
	UserID    string
	AgentID   string
	VisitorID string

	FollowUpType         string
	LeadStage            string
	PreviousInteractions []Interaction
	LeadData             *LeadData // nil: read the lead from the database only
	ProductInterest      []string
	// FollowUpInterval is free text: the writers get it as written, and a
	// sequence uses what it can be read as (ReadSchedule).
	FollowUpInterval string
	Interval         time.Duration // FollowUpInterval read as a spacing; 0 when it cannot be

	// PhoneNumber is the number WhatsApp follow-ups go to, when given. It
	// overrides the lead's phone.
	PhoneNumber string
	// Schedule asks Parley to deliver the follow-ups as a sequence.
	Schedule bool
}

// Interaction is one earlier contact with the lead.
type Interaction struct {
	Date    string `json:"date"`
	Type    string `json:"type"`
	Summary string `json:"summary,omitempty"`
	Content string `json:"content,omitempty"`
}

// Text is what the interaction said: its summary, else its content.
func (i Interaction) Text() string {
	if s := strings.TrimSpace(i.Summary); s != "" {
		return s
	}
	return strings.TrimSpace(i.Content)
}

// LeadData overrides stored lead fields; nil fields keep the stored value.
type LeadData struct {
	Name        *string  `json:"name,omitempty"`
	Company     *string  `json:"company,omitempty"`
	Position    *string  `json:"position,omitempty"`
	Email       *string  `json:"email,omitempty"`
	Phone       *string  `json:"phone,omitempty"`
	PainPoints  []string `json:"pain_points,omitempty"`
	BudgetRange *string  `json:"budget_range,omitempty"`
	LeadStage   *string  `json:"lead_stage,omitempty"`
}

// Limits that keep one request (and the prompt built from it) bounded.
const (
	maxInteractions = 50
	maxListItems    = 20
	maxFieldRunes   = 2000
)

// ParseRequest reads a follow-up request body. Its checks run in a fixed
// order, before any lookup: the body's shape and every field's type
// (INVALID_REQUEST), then the required siteId and leadId (INVALID_REQUEST),
// then the ids' UUID form (INVALID_INPUT), then phone_number
// (INVALID_PHONE_NUMBER). followUpInterval is free text and never refused.
func ParseRequest(body []byte) (Request, *Error) {
	var r Request
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return r, fail(CodeInvalidRequest, "the request body is empty: send a JSON object with siteId and leadId")
	}
	if !utf8.Valid(body) {
		return r, fail(CodeInvalidRequest, "the request body is not UTF-8")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return r, fail(CodeInvalidRequest, "the request body must be a JSON object")
	}
	p := parser{fields: fields}

	ids := []struct {
		dst         *string
		camel, snke string
	}{
		{&r.SiteID, "siteId", "site_id"},
		{&r.LeadID, "leadId", "lead_id"},
		{&r.UserID, "userId", "user_id"},
		{&r.AgentID, "agentId", "agent_id"},
		{&r.VisitorID, "visitorId", "visitor_id"},
	}
	for _, id := range ids {
		p.str(id.dst, id.camel, id.snke)
	}
	p.str(&r.FollowUpType, "followUpType", "follow_up_type")
	p.str(&r.LeadStage, "leadStage", "lead_stage")
	p.str(&r.FollowUpInterval, "followUpInterval", "follow_up_interval")
	phoneGiven := p.str(&r.PhoneNumber, "phone_number", "phoneNumber")
	p.boolean(&r.Schedule, "schedule")
	p.strings(&r.ProductInterest, "productInterest", "product_interest")
	p.interactions(&r.PreviousInteractions)
	p.leadData(&r.LeadData)
	if p.err != nil {
		return Request{}, p.err
	}

	if r.SiteID == "" {
		return Request{}, fail(CodeInvalidRequest, "siteId is required")
	}
	if r.LeadID == "" {
		return Request{}, fail(CodeInvalidRequest, "leadId is required")
	}
	for _, id := range ids {
		if *id.dst != "" && !store.IsUUID(*id.dst) {
			return Request{}, fail(CodeInvalidInput, fmt.Sprintf("%s must be a UUID, got %q", id.camel, clip(*id.dst, 64)))
		}
	}
	if phoneGiven {
		if !validPhoneNumber(r.PhoneNumber) {
			return Request{}, fail(CodeInvalidPhoneNumber, "phone_number must be a phone number with at least 7 digits")
		}
		r.PhoneNumber = strings.TrimSpace(r.PhoneNumber)
	}
	if d, err := ParseInterval(r.FollowUpInterval); err == nil {
		r.Interval = d
	}
	return r, nil
}

// validPhoneNumber accepts the characters people write numbers with and
// 7 to 15 digits (E.164's longest).
func validPhoneNumber(s string) bool {
	digits := 0
	for _, c := range strings.TrimSpace(s) {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case strings.ContainsRune("+-(). ", c):
		default:
			return false
		}
	}
	return digits >= 7 && digits <= 15
}

// whatsAppNumber gives the E.164 form of a lead's number, reading a
// national number in region (the country of the site's WhatsApp line), or
// says why the number cannot be used.
func whatsAppNumber(raw, region string) (string, string) {
	if strings.TrimSpace(raw) == "" {
		return "", "the lead has no phone number"
	}
	n, err := phone.Normalize(raw, region)
	if err == nil {
		return n, ""
	}
	why := "not a phone number"
	var ie *phone.InvalidError
	if errors.As(err, &ie) {
		why = string(ie.Reason)
	}
	hint := "write it with its country code, e.g. +44 20 7946 0958"
	if region == "" {
		hint = "the site's WhatsApp line has no number to take a country from: " + hint
	}
	return "", fmt.Sprintf("phone number %q cannot be used on WhatsApp (%s); %s", clip(strings.TrimSpace(raw), 40), why, hint)
}

// parser reads typed fields out of the body, remembering the first error.
type parser struct {
	fields map[string]json.RawMessage
	err    *Error
}

// raw returns the value under the first of names present and not null;
// both spellings present with different values is an error.
func (p *parser) raw(names ...string) (json.RawMessage, string) {
	var found json.RawMessage
	var foundName string
	for _, n := range names {
		v, ok := p.fields[n]
		if !ok || string(bytes.TrimSpace(v)) == "null" {
			continue
		}
		if found != nil && !bytes.Equal(bytes.TrimSpace(found), bytes.TrimSpace(v)) && p.err == nil {
			p.err = fail(CodeInvalidRequest, fmt.Sprintf("%s and %s disagree: send one of them", foundName, n))
		}
		if found == nil {
			found, foundName = v, n
		}
	}
	return found, foundName
}

func (p *parser) bad(name, want string) {
	if p.err == nil {
		p.err = fail(CodeInvalidRequest, name+" must be "+want)
	}
}

// str reads a string field and reports whether it was present.
func (p *parser) str(dst *string, names ...string) bool {
	v, name := p.raw(names...)
	if v == nil {
		return false
	}
	if err := json.Unmarshal(v, dst); err != nil {
		p.bad(name, "a string")
		return false
	}
	if utf8.RuneCountInString(*dst) > maxFieldRunes {
		p.bad(name, fmt.Sprintf("at most %d characters", maxFieldRunes))
	}
	if name != "phone_number" && name != "phoneNumber" {
		*dst = strings.TrimSpace(*dst)
	}
	return true
}

func (p *parser) boolean(dst *bool, names ...string) {
	v, name := p.raw(names...)
	if v != nil && json.Unmarshal(v, dst) != nil {
		p.bad(name, "true or false")
	}
}

func (p *parser) strings(dst *[]string, names ...string) {
	v, name := p.raw(names...)
	if v == nil {
		return
	}
	if err := json.Unmarshal(v, dst); err != nil {
		p.bad(name, "an array of strings")
		return
	}
	*dst = cleanList(*dst)
	if len(*dst) > maxListItems {
		p.bad(name, fmt.Sprintf("at most %d items", maxListItems))
	}
	for _, s := range *dst {
		if utf8.RuneCountInString(s) > maxFieldRunes {
			p.bad(name, fmt.Sprintf("a list of items of at most %d characters", maxFieldRunes))
		}
	}
}

func (p *parser) interactions(dst *[]Interaction) {
	v, name := p.raw("previousInteractions", "previous_interactions")
	if v == nil {
		return
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		p.bad(name, "an array of objects with date, type and summary or content")
		return
	}
	if len(items) > maxInteractions {
		p.bad(name, fmt.Sprintf("at most %d interactions", maxInteractions))
		return
	}
	for i, item := range items {
		sub := parser{fields: item}
		var in Interaction
		sub.str(&in.Date, "date")
		sub.str(&in.Type, "type")
		sub.str(&in.Summary, "summary")
		sub.str(&in.Content, "content")
		if sub.err != nil {
			p.bad(fmt.Sprintf("%s[%d]", name, i), "an object whose date, type, summary and content are strings: "+sub.err.Message)
			return
		}
		if in.Text() == "" && in.Type == "" {
			continue // nothing to say about an empty interaction
		}
		*dst = append(*dst, in)
	}
}

func (p *parser) leadData(dst **LeadData) {
	v, name := p.raw("leadData", "lead_data")
	if v == nil {
		return
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(v, &fields); err != nil || fields == nil {
		p.bad(name, "an object")
		return
	}
	sub := parser{fields: fields}
	d := &LeadData{}
	opt := func(names ...string) *string {
		var s string
		if sub.str(&s, names...) {
			return &s
		}
		return nil
	}
	d.Name = opt("name")
	d.Company = opt("company")
	d.Position = opt("position")
	d.Email = opt("email")
	d.Phone = opt("phone")
	d.BudgetRange = opt("budget_range", "budgetRange")
	d.LeadStage = opt("lead_stage", "leadStage")
	if raw, _ := sub.raw("pain_points", "painPoints"); raw != nil {
		// A single pain point written as a string is taken as a list of one.
		var one string
		if json.Unmarshal(raw, &one) == nil {
			d.PainPoints = cleanList([]string{one})
		} else {
			sub.strings(&d.PainPoints, "pain_points", "painPoints")
		}
	}
	if sub.err != nil {
		p.bad(name, "an object of lead fields: "+sub.err.Message)
		return
	}
	*dst = d
}

// cleanList trims items and drops empty ones.
func cleanList(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

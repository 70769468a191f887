package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/leads"
	"github.com/parleyhq/parley/store"
)

// Leads: a tester for the lead sequence call. The form becomes the very
// JSON body the API takes, which goes through the call's own parser and
// service (not over HTTP) as the signed-in user's tenant; the page shows
// the content per channel and the same request as curl, fetch and Go.
// Nothing is delivered: the tester never asks for a sequence.

func (d *Dashboard) leadsPage() Page {
	p := Page{Name: "Leads", Path: "/leads"}
	if d.leads == nil {
		return p
	}
	p.Routes = func(rt Routes) {
		rt.Get("/leads", d.leadTester)
		rt.Post("/leads", d.runLeadTester)
	}
	return p
}

// testerFields are the form's fields, in the form's order.
var testerFields = []string{"site_id", "lead_id", "user_id", "agent_id", "visitor_id", "follow_up_type", "lead_stage",
	"previous_interactions", "lead_data", "product_interest", "follow_up_interval", "phone_number"}

// testerBody is the request the form makes, spelled like the contract's
// example; JSON fields go in as typed.
type testerBody struct {
	SiteID               string          `json:"siteId"`
	LeadID               string          `json:"leadId"`
	UserID               string          `json:"userId,omitempty"`
	AgentID              string          `json:"agent_id,omitempty"`
	VisitorID            string          `json:"visitorId,omitempty"`
	FollowUpType         string          `json:"followUpType,omitempty"`
	LeadStage            string          `json:"leadStage,omitempty"`
	PreviousInteractions json.RawMessage `json:"previousInteractions,omitempty"`
	LeadData             json.RawMessage `json:"leadData,omitempty"`
	ProductInterest      json.RawMessage `json:"productInterest,omitempty"`
	FollowUpInterval     string          `json:"followUpInterval,omitempty"`
	PhoneNumber          string          `json:"phone_number,omitempty"`
}

// bodyField maps the body's names (which the call's messages start with)
// back to the form's fields.
var bodyField = map[string]string{
	"siteId": "site_id", "leadId": "lead_id", "userId": "user_id", "agent_id": "agent_id", "visitorId": "visitor_id",
	"followUpType": "follow_up_type", "leadStage": "lead_stage", "previousInteractions": "previous_interactions",
	"leadData": "lead_data", "productInterest": "product_interest", "followUpInterval": "follow_up_interval", "phone_number": "phone_number",
}

// jsonShapes are the JSON fields with the shape each must have; the
// browser checks the same (static/leads.js).
var jsonShapes = map[string]struct {
	open byte
	want string
}{
	"previous_interactions": {'[', "Must be a JSON array of objects with date, type and summary or content."},
	"lead_data":             {'{', "Must be a JSON object, like {\"name\": \"Jane Smith\"}."},
	"product_interest":      {'[', "Must be a JSON array of strings, like [\"analytics\"]."},
}

type channelContent struct {
	Channel string
	parley.LeadContent
}

type leadsData struct {
	Form     *Form
	Sites    []parley.Site
	Leads    []parley.Lead
	Ran      bool   // the form was sent and made a request
	Status   int    // the status the API would answer
	Code     string // the call's error code, when it failed
	Message  string
	Content  []channelContent
	Lead     *leads.LeadView
	Commands leads.CommandIDs
	// Channels and Schedule say what a sequence would deliver, and why not.
	Channels []leads.ChannelReport
	Schedule leads.Schedule
	Snippets []snippet
}

func (d *Dashboard) leadTester(w http.ResponseWriter, r *http.Request, s *Session) error {
	return d.showLeadTester(w, r, s, http.StatusOK, &leadsData{Form: newForm()})
}

func (d *Dashboard) showLeadTester(w http.ResponseWriter, r *http.Request, s *Session, status int, data *leadsData) error {
	ctx := r.Context()
	// Suggestions for the id fields: the tenant's latest sites and leads.
	var err error
	if data.Sites, _, err = d.store.ListSites(ctx, s.TenantID, store.Page{Limit: 50}); err != nil {
		return err
	}
	if data.Leads, _, err = d.store.ListLeads(ctx, s.TenantID, store.Page{Limit: 50}); err != nil {
		return err
	}
	return d.render(w, r, s, status, "leads", data)
}

func (d *Dashboard) runLeadTester(w http.ResponseWriter, r *http.Request, s *Session) error {
	f := readForm(r, testerFields...)
	data := &leadsData{Form: f}
	f.Require(64, "site_id", "lead_id")
	f.Max(64, "user_id", "agent_id", "visitor_id")
	f.Max(2000, "follow_up_type", "lead_stage", "follow_up_interval", "phone_number")
	f.Max(100000, "previous_interactions", "lead_data", "product_interest")
	for field, shape := range jsonShapes {
		checkJSON(f, field, shape.open, shape.want)
	}
	if !f.OK() {
		return d.showLeadTester(w, r, s, http.StatusUnprocessableEntity, data)
	}
	// Written as a person would type it: indented, "<" and "&" as they are.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(testerBody{
		SiteID: f.Get("site_id"), LeadID: f.Get("lead_id"), UserID: f.Get("user_id"), AgentID: f.Get("agent_id"), VisitorID: f.Get("visitor_id"),
		FollowUpType: f.Get("follow_up_type"), LeadStage: f.Get("lead_stage"),
		PreviousInteractions: raw(f.Get("previous_interactions")), LeadData: raw(f.Get("lead_data")), ProductInterest: raw(f.Get("product_interest")),
		FollowUpInterval: f.Get("follow_up_interval"), PhoneNumber: f.Get("phone_number"),
	})
	if err != nil {
		return err
	}
	body := bytes.TrimSpace(buf.Bytes())
	data.Ran = true
	data.Snippets = snippets(d.baseURL(r)+leads.FollowUpPath, string(body))

	res, err := d.callLeads(r.Context(), s, body)
	if err != nil {
		var le *leads.Error
		if !errors.As(err, &le) {
			return err
		}
		data.Status, data.Code, data.Message = le.Status(), le.Code, le.Message
		if field := leadErrorField(le); field != "" {
			// The call's own words: they name its fields as the API does.
			f.Fail(field, le.Message+" ("+le.Code+")")
		}
		return d.showLeadTester(w, r, s, le.Status(), data)
	}
	data.Status, data.Lead, data.Commands = http.StatusOK, &res.Lead, res.CommandIDs
	data.Channels, data.Schedule = res.Channels, res.Schedule
	for _, ch := range parley.LeadChannels {
		if c, ok := res.Messages[ch]; ok {
			data.Content = append(data.Content, channelContent{Channel: ch, LeadContent: c})
		}
	}
	return d.showLeadTester(w, r, s, http.StatusOK, data)
}

// callLeads runs the call as the API does: the contract's parser, then the
// service, for the signed-in user's tenant.
func (d *Dashboard) callLeads(ctx context.Context, s *Session, body []byte) (*leads.Result, error) {
	req, perr := leads.ParseRequest(body)
	if perr != nil {
		return nil, perr
	}
	res, err := d.leads.FollowUp(ctx, s.Tenant, req)
	if err != nil {
		var le *leads.Error
		if errors.As(err, &le) && le.Code == leads.CodeSystemError {
			d.log.ErrorContext(ctx, "lead tester: follow-up failed", "tenant_id", s.TenantID, "lead_id", req.LeadID, "err", err)
		}
		return nil, err
	}
	return res, nil
}

// leadErrorField names the form field a call's error is about, or "".
func leadErrorField(e *leads.Error) string {
	switch e.Code {
	case leads.CodeSiteNotFound:
		return "site_id"
	case leads.CodeLeadNotFound:
		return "lead_id"
	case leads.CodeVisitorNotFound:
		return "visitor_id"
	case leads.CodeInvalidPhoneNumber:
		return "phone_number"
	case leads.CodeAgentNotFound:
		switch {
		case strings.Contains(e.Message, "userId"):
			return "user_id"
		case strings.Contains(e.Message, "agent_id"):
			return "agent_id"
		}
		return ""
	}
	// The parser's messages start with the body's name of the field.
	for name, field := range bodyField {
		if rest, ok := strings.CutPrefix(e.Message, name); ok && (rest == "" || strings.ContainsRune(" :[", rune(rest[0]))) {
			return field
		}
	}
	return ""
}

// checkJSON fails a JSON field that does not parse or has the wrong shape.
func checkJSON(f *Form, field string, open byte, want string) {
	v := f.Get(field)
	if v == "" {
		return
	}
	var x any
	if err := json.Unmarshal([]byte(v), &x); err != nil {
		f.Fail(field, "Not valid JSON: "+strings.TrimPrefix(err.Error(), "json: ")+".")
		return
	}
	if v[0] != open {
		f.Fail(field, want)
	}
}

func raw(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) != nil {
		return nil
	}
	return b.Bytes()
}

// baseURL is where the API is reached: PARLEY_PUBLIC_URL, else the host
// this page was asked for.
func (d *Dashboard) baseURL(r *http.Request) string {
	if d.publicURL != "" {
		return d.publicURL
	}
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

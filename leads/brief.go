package leads

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/parleyhq/parley"
)

// LeadView is the lead as the follow-up call answers it: the stored lead
// with the request's leadData merged over it, and its site.
type LeadView struct {
	ID                   string        `json:"id"`
	Name                 string        `json:"name"`
	Company              string        `json:"company"`
	Email                string        `json:"email"`
	Phone                string        `json:"phone"`
	Position             string        `json:"position"`
	PainPoints           []string      `json:"pain_points"`
	BudgetRange          string        `json:"budget_range"`
	LeadStage            string        `json:"lead_stage"`
	Sites                SiteRef       `json:"sites"`
	PreviousInteractions []Interaction `json:"previous_interactions"`
	ProductInterest      []string      `json:"product_interest"`
}

// SiteRef names the site a lead came from.
type SiteRef struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Rep is the sales representative a follow-up is written for.
type Rep struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
}

// brief is everything a phase writes from. It is the input recorded on
// each command, so a sequence started later knows whom it writes to.
type brief struct {
	Lead             LeadView `json:"lead"`
	Rep              *Rep     `json:"sales_rep,omitempty"`
	FollowUpType     string   `json:"follow_up_type,omitempty"`
	FollowUpInterval string   `json:"follow_up_interval,omitempty"`
	Channels         []string `json:"channels"`
	VisitorID        string   `json:"visitor_id,omitempty"`
	// WhatsAppTo is the E.164 number WhatsApp follow-ups go to.
	WhatsAppTo string `json:"whatsapp_to,omitempty"`
	// WhatsAppWhy says why the lead's number cannot be used, when it cannot.
	WhatsAppWhy string `json:"whatsapp_unusable,omitempty"`
}

// merge lays the request's leadData (and leadStage, phone_number) over the
// stored lead.
func merge(l parley.Lead, site parley.Site, r Request) LeadView {
	v := LeadView{
		ID: l.ID, Name: l.Name, Company: l.Company, Email: l.Email, Phone: l.Phone, Position: l.Position,
		PainPoints: l.PainPoints, BudgetRange: l.BudgetRange, LeadStage: l.LeadStage,
		Sites:                SiteRef{Name: site.Name, URL: site.URL},
		PreviousInteractions: r.PreviousInteractions, ProductInterest: r.ProductInterest,
	}
	if d := r.LeadData; d != nil {
		over := func(dst *string, src *string) {
			if src != nil && strings.TrimSpace(*src) != "" {
				*dst = strings.TrimSpace(*src)
			}
		}
		over(&v.Name, d.Name)
		over(&v.Company, d.Company)
		over(&v.Position, d.Position)
		over(&v.Email, d.Email)
		over(&v.Phone, d.Phone)
		over(&v.BudgetRange, d.BudgetRange)
		over(&v.LeadStage, d.LeadStage)
		if len(d.PainPoints) > 0 {
			v.PainPoints = d.PainPoints
		}
	}
	if r.LeadStage != "" {
		v.LeadStage = r.LeadStage
	}
	if r.PhoneNumber != "" {
		v.Phone = r.PhoneNumber
	}
	if v.PainPoints == nil {
		v.PainPoints = []string{}
	}
	if v.PreviousInteractions == nil {
		v.PreviousInteractions = []Interaction{}
	}
	if v.ProductInterest == nil {
		v.ProductInterest = []string{}
	}
	return v
}

// asMap turns a brief into a command's recorded input.
func (b brief) asMap() map[string]any {
	raw, _ := json.Marshal(b)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

// briefFrom reads a command's recorded input back.
func briefFrom(m map[string]any) (brief, error) {
	var b brief
	return b, remarshal(m, &b)
}

// remarshal converts a decoded JSON value into a typed one.
func remarshal(from, into any) error {
	raw, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, into)
}

// text renders the brief for a prompt: plain labelled lines a model reads
// easily, with every fact the content may use.
func (b brief) text() string {
	var w strings.Builder
	line := func(label, value string) {
		if strings.TrimSpace(value) != "" {
			fmt.Fprintf(&w, "%s: %s\n", label, value)
		}
	}
	l := b.Lead
	w.WriteString("LEAD\n")
	line("Name", l.Name)
	line("Company", l.Company)
	line("Position", l.Position)
	line("Email", l.Email)
	line("Phone", l.Phone)
	line("Pain points", strings.Join(l.PainPoints, "; "))
	line("Budget range", l.BudgetRange)
	line("Lead stage", l.LeadStage)
	w.WriteString("\nOUR SIDE\n")
	line("Website", strings.TrimSpace(l.Sites.Name+" "+l.Sites.URL))
	if b.Rep != nil {
		line("Sales representative (sign as)", b.Rep.Name)
	}
	w.WriteString("\nCONTEXT\n")
	line("Products or services of interest", strings.Join(l.ProductInterest, "; "))
	line("Follow-up type wanted", b.FollowUpType)
	line("Follow-up interval", b.FollowUpInterval)
	if len(l.PreviousInteractions) > 0 {
		w.WriteString("Previous interactions (oldest first):\n")
		for _, in := range l.PreviousInteractions {
			fmt.Fprintf(&w, "- %s %s: %s\n", in.Date, in.Type, in.Text())
		}
	}
	line("\nChannels to write for", strings.Join(b.Channels, ", "))
	return w.String()
}

package web

import (
	"context"
	"net/mail"
	"net/url"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/phone"
	"github.com/parleyhq/parley/store"
)

// This file holds the CRUD API of the sales side: sites, leads, visitors,
// sales representatives (site users) and AI personas (site agents).

// SiteView is a site as the API shows it: the SMTP password replaced by a flag.
type SiteView struct {
	parley.Site
	EmailPasswordSet bool `json:"email_password_set"`
}

func viewSite(s parley.Site) SiteView {
	return SiteView{Site: s, EmailPasswordSet: s.Email != nil && s.Email.Password != ""}
}

type emailSenderIn struct {
	Host        string `json:"host" minLength:"1" maxLength:"253"`
	Port        int    `json:"port,omitempty" minimum:"1" maximum:"65535" doc:"Default 465 with tls=ssl, else 587"`
	Username    string `json:"username,omitempty" maxLength:"320"`
	Password    string `json:"password,omitempty" maxLength:"1024" doc:"Never shown again; omit on update to keep the stored one"`
	FromAddress string `json:"from_address" maxLength:"320"`
	FromName    string `json:"from_name,omitempty" maxLength:"200"`
	TLS         string `json:"tls,omitempty" enum:"starttls,ssl,opportunistic,none" doc:"Default starttls (required)"`
}

func (in *emailSenderIn) sender(keepPassword string) *parley.EmailSender {
	if in == nil {
		return nil
	}
	e := &parley.EmailSender{Host: in.Host, Port: in.Port, Username: in.Username, Password: in.Password,
		FromAddress: in.FromAddress, FromName: in.FromName, TLS: in.TLS}
	if e.Password == "" {
		e.Password = keepPassword
	}
	return e
}

type siteIn struct {
	Name              string           `json:"name" minLength:"1" maxLength:"200"`
	URL               string           `json:"url,omitempty" maxLength:"2000"`
	Email             *emailSenderIn   `json:"email,omitempty" doc:"SMTP sender for e-mail follow-ups"`
	WhatsAppChannelID string           `json:"whatsapp_channel_id,omitempty" maxLength:"64" doc:"The tenant's WhatsApp channel follow-ups go out on"`
	WhatsAppTemplate  *parley.Template `json:"whatsapp_template,omitempty" doc:"Approved template used outside the 24-hour window; {{1}} first name, {{2}} title"`
}

type sitePatch struct {
	Name              *string          `json:"name,omitempty" minLength:"1" maxLength:"200"`
	URL               *string          `json:"url,omitempty" maxLength:"2000"`
	Email             *emailSenderIn   `json:"email,omitempty"`
	RemoveEmail       bool             `json:"remove_email,omitempty" doc:"Remove the SMTP sender"`
	WhatsAppChannelID *string          `json:"whatsapp_channel_id,omitempty" maxLength:"64" doc:"Empty removes the channel"`
	WhatsAppTemplate  *parley.Template `json:"whatsapp_template,omitempty"`
}

// checkSite validates a site as it would be stored, within the tenant.
func (s *Server) checkSite(ctx context.Context, site *parley.Site) error {
	if site.URL != "" {
		u, err := url.Parse(site.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return parley.FieldError("url", "must be an http(s) URL")
		}
	}
	if e := site.Email; e != nil {
		if a, err := mail.ParseAddress(e.FromAddress); err != nil || a.Address != e.FromAddress {
			return parley.FieldError("email.from_address", "%q is not an e-mail address", e.FromAddress)
		}
		if e.TLS == "" {
			e.TLS = parley.TLSStartTLS
		}
		if e.Port == 0 {
			e.Port = 587
			if e.TLS == parley.TLSImplicit {
				e.Port = 465
			}
		}
	}
	if site.WhatsAppChannelID != "" {
		ch, err := s.store.GetChannel(ctx, site.TenantID, site.WhatsAppChannelID)
		if err != nil || (ch.Type != parley.ChannelWhatsApp && ch.Type != parley.ChannelTwilio) {
			return parley.FieldError("whatsapp_channel_id", "must name one of the tenant's WhatsApp channels")
		}
	}
	if t := site.WhatsAppTemplate; t != nil && (t.Name == "" || t.Language == "") {
		return parley.FieldError("whatsapp_template", "needs a name and a language")
	}
	return nil
}

// siteOf checks that id names a site of the tenant.
func (s *Server) siteOf(ctx context.Context, tenantID, id, field string) error {
	if _, err := s.store.GetSite(ctx, tenantID, id); err != nil {
		if parley.ErrorCode(err) == parley.CodeNotFound {
			return parley.FieldError(field, "no such site")
		}
		return err
	}
	return nil
}

type leadIn struct {
	SiteID      string   `json:"site_id" maxLength:"64"`
	VisitorID   string   `json:"visitor_id,omitempty" maxLength:"64"`
	Name        string   `json:"name,omitempty" maxLength:"200"`
	Company     string   `json:"company,omitempty" maxLength:"200"`
	Position    string   `json:"position,omitempty" maxLength:"200"`
	Email       string   `json:"email,omitempty" maxLength:"320"`
	Phone       string   `json:"phone,omitempty" maxLength:"32"`
	PainPoints  []string `json:"pain_points,omitempty" maxItems:"20"`
	BudgetRange string   `json:"budget_range,omitempty" maxLength:"100"`
	LeadStage   string   `json:"lead_stage,omitempty" maxLength:"100"`
}

type leadPatch struct {
	VisitorID   *string   `json:"visitor_id,omitempty" maxLength:"64"`
	Name        *string   `json:"name,omitempty" maxLength:"200"`
	Company     *string   `json:"company,omitempty" maxLength:"200"`
	Position    *string   `json:"position,omitempty" maxLength:"200"`
	Email       *string   `json:"email,omitempty" maxLength:"320"`
	Phone       *string   `json:"phone,omitempty" maxLength:"32"`
	PainPoints  *[]string `json:"pain_points,omitempty" maxItems:"20"`
	BudgetRange *string   `json:"budget_range,omitempty" maxLength:"100"`
	LeadStage   *string   `json:"lead_stage,omitempty" maxLength:"100"`
}

func (s *Server) checkLead(ctx context.Context, l *parley.Lead) error {
	if err := s.siteOf(ctx, l.TenantID, l.SiteID, "site_id"); err != nil {
		return err
	}
	if l.VisitorID != "" {
		if v, err := s.store.GetVisitor(ctx, l.TenantID, l.VisitorID); err != nil || v.SiteID != l.SiteID {
			return parley.FieldError("visitor_id", "no such visitor on the lead's site")
		}
	}
	if l.Email != "" {
		if a, err := mail.ParseAddress(l.Email); err != nil || a.Address != l.Email {
			return parley.FieldError("email", "%q is not an e-mail address", l.Email)
		}
	}
	if l.Phone != "" {
		n, err := phone.Normalize(l.Phone, "")
		if err != nil {
			return parley.FieldError("phone", "%q is not a valid phone number (include the country code)", l.Phone)
		}
		l.Phone = n
	}
	pains := make([]string, 0, len(l.PainPoints))
	for _, p := range l.PainPoints {
		if p = strings.TrimSpace(p); p != "" {
			pains = append(pains, p)
		}
	}
	l.PainPoints = pains
	return nil
}

type visitorIn struct {
	SiteID string `json:"site_id" maxLength:"64"`
	LeadID string `json:"lead_id,omitempty" maxLength:"64"`
	Name   string `json:"name,omitempty" maxLength:"200"`
}

type visitorPatch struct {
	LeadID *string `json:"lead_id,omitempty" maxLength:"64"`
	Name   *string `json:"name,omitempty" maxLength:"200"`
}

func (s *Server) checkVisitor(ctx context.Context, v *parley.Visitor) error {
	if err := s.siteOf(ctx, v.TenantID, v.SiteID, "site_id"); err != nil {
		return err
	}
	if v.LeadID != "" {
		if l, err := s.store.GetLead(ctx, v.TenantID, v.LeadID); err != nil || l.SiteID != v.SiteID {
			return parley.FieldError("lead_id", "no such lead on the visitor's site")
		}
	}
	return nil
}

type siteUserIn struct {
	SiteID string `json:"site_id" maxLength:"64"`
	Name   string `json:"name" minLength:"1" maxLength:"200"`
	Email  string `json:"email,omitempty" maxLength:"320"`
	Active *bool  `json:"active,omitempty" doc:"Default true"`
}

type siteUserPatch struct {
	Name   *string `json:"name,omitempty" minLength:"1" maxLength:"200"`
	Email  *string `json:"email,omitempty" maxLength:"320"`
	Active *bool   `json:"active,omitempty"`
}

type siteAgentIn struct {
	SiteID       string `json:"site_id" maxLength:"64"`
	Role         string `json:"role" enum:"sales,copywriter" doc:"sales: Sales/CRM Specialist; copywriter: Content Creator & Copywriter"`
	Name         string `json:"name" minLength:"1" maxLength:"200"`
	Instructions string `json:"instructions,omitempty" maxLength:"8000"`
	UserID       string `json:"user_id,omitempty" maxLength:"64" doc:"The sales representative this persona writes for"`
	Active       *bool  `json:"active,omitempty" doc:"Default true"`
}

type siteAgentPatch struct {
	Role         *string `json:"role,omitempty" enum:"sales,copywriter"`
	Name         *string `json:"name,omitempty" minLength:"1" maxLength:"200"`
	Instructions *string `json:"instructions,omitempty" maxLength:"8000"`
	UserID       *string `json:"user_id,omitempty" maxLength:"64"`
	Active       *bool   `json:"active,omitempty"`
}

func (s *Server) checkSiteAgent(ctx context.Context, a *parley.LeadPersona) error {
	if err := s.siteOf(ctx, a.TenantID, a.SiteID, "site_id"); err != nil {
		return err
	}
	if a.UserID != "" {
		if u, err := s.store.GetSiteUser(ctx, a.TenantID, a.UserID); err != nil || u.SiteID != a.SiteID {
			return parley.FieldError("user_id", "no such sales representative on the agent's site")
		}
	}
	return nil
}

func (s *Server) registerLeads() {
	registerCRUD(s, resource[SiteView, siteIn, sitePatch]{
		name: "site", path: "/api/sites", tag: "Leads",
		create: func(ctx context.Context, t parley.Tenant, in siteIn) (SiteView, error) {
			site := parley.Site{TenantID: t.ID, Name: in.Name, URL: in.URL, Email: in.Email.sender(""),
				WhatsAppChannelID: in.WhatsAppChannelID, WhatsAppTemplate: in.WhatsAppTemplate}
			if err := s.checkSite(ctx, &site); err != nil {
				return SiteView{}, err
			}
			site, err := s.store.CreateSite(ctx, site)
			return viewSite(site), err
		},
		get: func(ctx context.Context, tenantID, id string) (SiteView, error) {
			site, err := s.store.GetSite(ctx, tenantID, id)
			return viewSite(site), err
		},
		list: func(ctx context.Context, tenantID string, p store.Page) ([]SiteView, string, error) {
			items, next, err := s.store.ListSites(ctx, tenantID, p)
			out := make([]SiteView, len(items))
			for i, it := range items {
				out[i] = viewSite(it)
			}
			return out, next, err
		},
		update: func(ctx context.Context, t parley.Tenant, id string, in sitePatch) (SiteView, error) {
			site, err := s.store.GetSite(ctx, t.ID, id)
			if err != nil {
				return SiteView{}, err
			}
			set(&site.Name, in.Name)
			set(&site.URL, in.URL)
			set(&site.WhatsAppChannelID, in.WhatsAppChannelID)
			if in.WhatsAppTemplate != nil {
				site.WhatsAppTemplate = in.WhatsAppTemplate
			}
			if in.Email != nil {
				keep := ""
				if site.Email != nil {
					keep = site.Email.Password
				}
				site.Email = in.Email.sender(keep)
			}
			if in.RemoveEmail {
				site.Email = nil
			}
			if err := s.checkSite(ctx, &site); err != nil {
				return SiteView{}, err
			}
			return viewSite(site), s.store.UpdateSite(ctx, site)
		},
		delete: func(ctx context.Context, tenantID, id string) error { return s.store.DeleteSite(ctx, tenantID, id) },
	})

	registerCRUD(s, resource[parley.Lead, leadIn, leadPatch]{
		name: "lead", path: "/api/leads", tag: "Leads",
		create: func(ctx context.Context, t parley.Tenant, in leadIn) (parley.Lead, error) {
			l := parley.Lead{TenantID: t.ID, SiteID: in.SiteID, VisitorID: in.VisitorID, Name: in.Name, Company: in.Company, Position: in.Position,
				Email: in.Email, Phone: in.Phone, PainPoints: in.PainPoints, BudgetRange: in.BudgetRange, LeadStage: in.LeadStage}
			if err := s.checkLead(ctx, &l); err != nil {
				return l, err
			}
			return s.store.CreateLead(ctx, l)
		},
		get:  s.store.GetLead,
		list: s.store.ListLeads,
		update: func(ctx context.Context, t parley.Tenant, id string, in leadPatch) (parley.Lead, error) {
			l, err := s.store.GetLead(ctx, t.ID, id)
			if err != nil {
				return l, err
			}
			set(&l.VisitorID, in.VisitorID)
			set(&l.Name, in.Name)
			set(&l.Company, in.Company)
			set(&l.Position, in.Position)
			set(&l.Email, in.Email)
			set(&l.Phone, in.Phone)
			set(&l.PainPoints, in.PainPoints)
			set(&l.BudgetRange, in.BudgetRange)
			set(&l.LeadStage, in.LeadStage)
			if err := s.checkLead(ctx, &l); err != nil {
				return l, err
			}
			if err := s.store.UpdateLead(ctx, l); err != nil {
				return l, err
			}
			return s.store.GetLead(ctx, t.ID, id)
		},
		delete: s.store.DeleteLead,
	})

	registerCRUD(s, resource[parley.Visitor, visitorIn, visitorPatch]{
		name: "visitor", path: "/api/visitors", tag: "Leads",
		create: func(ctx context.Context, t parley.Tenant, in visitorIn) (parley.Visitor, error) {
			v := parley.Visitor{TenantID: t.ID, SiteID: in.SiteID, LeadID: in.LeadID, Name: in.Name}
			if err := s.checkVisitor(ctx, &v); err != nil {
				return v, err
			}
			return s.store.CreateVisitor(ctx, v)
		},
		get:  s.store.GetVisitor,
		list: s.store.ListVisitors,
		update: func(ctx context.Context, t parley.Tenant, id string, in visitorPatch) (parley.Visitor, error) {
			v, err := s.store.GetVisitor(ctx, t.ID, id)
			if err != nil {
				return v, err
			}
			set(&v.LeadID, in.LeadID)
			set(&v.Name, in.Name)
			if err := s.checkVisitor(ctx, &v); err != nil {
				return v, err
			}
			return v, s.store.UpdateVisitor(ctx, v)
		},
		delete: s.store.DeleteVisitor,
	})

	registerCRUD(s, resource[parley.SiteUser, siteUserIn, siteUserPatch]{
		name: "site-user", path: "/api/site-users", tag: "Leads",
		create: func(ctx context.Context, t parley.Tenant, in siteUserIn) (parley.SiteUser, error) {
			u := parley.SiteUser{TenantID: t.ID, SiteID: in.SiteID, Name: in.Name, Email: in.Email, Active: in.Active == nil || *in.Active}
			if err := s.siteOf(ctx, t.ID, u.SiteID, "site_id"); err != nil {
				return u, err
			}
			return s.store.CreateSiteUser(ctx, u)
		},
		get:  s.store.GetSiteUser,
		list: s.store.ListSiteUsers,
		update: func(ctx context.Context, t parley.Tenant, id string, in siteUserPatch) (parley.SiteUser, error) {
			u, err := s.store.GetSiteUser(ctx, t.ID, id)
			if err != nil {
				return u, err
			}
			set(&u.Name, in.Name)
			set(&u.Email, in.Email)
			set(&u.Active, in.Active)
			return u, s.store.UpdateSiteUser(ctx, u)
		},
		delete: s.store.DeleteSiteUser,
	})

	registerCRUD(s, resource[parley.LeadPersona, siteAgentIn, siteAgentPatch]{
		name: "site-agent", path: "/api/site-agents", tag: "Leads",
		create: func(ctx context.Context, t parley.Tenant, in siteAgentIn) (parley.LeadPersona, error) {
			a := parley.LeadPersona{TenantID: t.ID, SiteID: in.SiteID, Role: in.Role, Name: in.Name, Instructions: in.Instructions,
				UserID: in.UserID, Active: in.Active == nil || *in.Active}
			if err := s.checkSiteAgent(ctx, &a); err != nil {
				return a, err
			}
			return s.store.CreateSiteAgent(ctx, a)
		},
		get:  s.store.GetSiteAgent,
		list: s.store.ListSiteAgents,
		update: func(ctx context.Context, t parley.Tenant, id string, in siteAgentPatch) (parley.LeadPersona, error) {
			a, err := s.store.GetSiteAgent(ctx, t.ID, id)
			if err != nil {
				return a, err
			}
			set(&a.Role, in.Role)
			set(&a.Name, in.Name)
			set(&a.Instructions, in.Instructions)
			set(&a.UserID, in.UserID)
			set(&a.Active, in.Active)
			if err := s.checkSiteAgent(ctx, &a); err != nil {
				return a, err
			}
			return a, s.store.UpdateSiteAgent(ctx, a)
		},
		delete: s.store.DeleteSiteAgent,
	})
}

package web

import (
	"context"
	"maps"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/phone"
	"github.com/parleyhq/parley/store"
)

// secretSettings are channel settings the API never shows.
var secretSettings = map[string]bool{"auth_token": true, "password": true, "smtp_password": true, "api_key": true}

// ChannelView is a channel as the API shows it: secrets replaced by flags.
type ChannelView struct {
	parley.Channel
	// InstagramAccountID is an instagram channel's account id (stored where
	// a WhatsApp channel keeps its phone_number_id).
	InstagramAccountID string `json:"instagram_account_id,omitempty"`
	HasAccessToken     bool   `json:"has_access_token"`
}

func viewChannel(c parley.Channel) ChannelView {
	shown := map[string]string{}
	for k, v := range c.Settings {
		if secretSettings[k] {
			v = "(set)"
		}
		shown[k] = v
	}
	c.Settings = shown
	v := ChannelView{Channel: c, HasAccessToken: c.AccessToken != ""}
	if c.Type == parley.ChannelInstagram {
		v.InstagramAccountID, v.PhoneNumberID = c.PhoneNumberID, ""
	}
	return v
}

type channelIn struct {
	Type          parley.ChannelType `json:"type" enum:"whatsapp,twilio,instagram,email,inapp,web"`
	Name          string             `json:"name" minLength:"1" maxLength:"200"`
	PhoneNumberID string             `json:"phone_number_id,omitempty" maxLength:"64" doc:"WhatsApp Cloud API phone number id (required for whatsapp)"`
	// InstagramAccountID is stored in the phone_number_id column: both are
	// the Meta id webhooks are routed by.
	InstagramAccountID string            `json:"instagram_account_id,omitempty" maxLength:"64" doc:"The Instagram professional account's id (required for instagram)"`
	DisplayNumber      string            `json:"display_number,omitempty" maxLength:"32" doc:"The business number as customers see it (required for twilio)"`
	AccessToken        string            `json:"access_token,omitempty" maxLength:"1024" doc:"Cloud API access token (required for whatsapp), or the Instagram access token (required for instagram); never shown again"`
	Active             *bool             `json:"active,omitempty" doc:"Default true"`
	TestSenders        []string          `json:"test_senders,omitempty" maxItems:"100" doc:"Numbers served even while the channel is inactive"`
	Settings           map[string]string `json:"settings,omitempty" doc:"Provider details, e.g. twilio account_sid and auth_token"`
}

type channelPatch struct {
	Name          *string `json:"name,omitempty" minLength:"1" maxLength:"200"`
	PhoneNumberID *string `json:"phone_number_id,omitempty" maxLength:"64"`
	// InstagramAccountID changes an instagram channel's account id.
	InstagramAccountID *string            `json:"instagram_account_id,omitempty" maxLength:"64"`
	DisplayNumber      *string            `json:"display_number,omitempty" maxLength:"32"`
	AccessToken        *string            `json:"access_token,omitempty" maxLength:"1024"`
	Active             *bool              `json:"active,omitempty"`
	TestSenders        *[]string          `json:"test_senders,omitempty" maxItems:"100"`
	Settings           *map[string]string `json:"settings,omitempty"`
}

// checkChannel validates a channel as it would be stored (before: as it
// was, for what is checked only when it changes).
func checkChannel(c *parley.Channel, before parley.Channel) error {
	senders := make([]string, 0, len(c.TestSenders))
	for _, p := range c.TestSenders {
		if c.Type == parley.ChannelInstagram {
			// Instagram contacts are Instagram-scoped ids, not numbers.
			id, ok := parley.InstagramID(p)
			if !ok {
				id = p
			}
			if !numeric(id) {
				return parley.FieldError("test_senders", "%q is not an Instagram-scoped id", p)
			}
			senders = append(senders, parley.InstagramContact(id))
			continue
		}
		n, err := phone.Normalize(p, "")
		if err != nil {
			return parley.FieldError("test_senders", "%q is not a valid phone number", p)
		}
		senders = append(senders, n)
	}
	c.TestSenders = senders
	switch c.Type {
	case parley.ChannelWhatsApp:
		if c.PhoneNumberID == "" {
			return parley.FieldError("phone_number_id", "is required for a whatsapp channel")
		}
		if !numeric(c.PhoneNumberID) {
			return parley.FieldError("phone_number_id", "must be Meta's numeric phone number id (digits only), not the phone number")
		}
		if c.AccessToken == "" {
			return parley.FieldError("access_token", "is required for a whatsapp channel")
		}
		// Checked when it changes: a rename keeps working beside an id
		// saved before the check existed.
		if waba := c.Settings[campaign.SettingWABAID]; waba != before.Settings[campaign.SettingWABAID] {
			if err := campaign.CheckWABAID(waba); err != nil {
				return err
			}
		}
	case parley.ChannelInstagram:
		if c.PhoneNumberID == "" {
			return parley.FieldError("instagram_account_id", "is required for an instagram channel")
		}
		if !numeric(c.PhoneNumberID) {
			return parley.FieldError("instagram_account_id", "must be the numeric Instagram account id (digits only), not the username")
		}
		if c.AccessToken == "" {
			return parley.FieldError("access_token", "is required for an instagram channel")
		}
	case parley.ChannelTwilio:
		for _, k := range []string{"account_sid", "auth_token"} {
			if c.Settings[k] == "" {
				return parley.FieldError("settings."+k, "is required for a twilio channel")
			}
		}
		n, err := phone.Normalize(c.DisplayNumber, "")
		if err != nil {
			return parley.FieldError("display_number", "is required for a twilio channel and must be a phone number")
		}
		c.DisplayNumber = n
	}
	return nil
}

// numeric reports whether id is all ASCII digits (Meta's ids are).
func numeric(id string) bool {
	for _, r := range id {
		if r < '0' || r > '9' {
			return false
		}
	}
	return id != ""
}

// checkKeys are the settings the ownership check writes. A tenant cannot set
// them (a "check": "ok" of its own would route it another business's
// customers); a new number or token clears them until the check runs again.
var checkKeys = []string{parley.SettingCheck, parley.SettingCheckError, parley.SettingCheckedAt, parley.SettingVerified}

// keepCheck puts the stored check result back into settings a client sent,
// or clears it when the number or token the check was about changed.
func keepCheck(c *parley.Channel, before parley.Channel) {
	if c.Settings == nil {
		c.Settings = map[string]string{}
	}
	unchanged := c.PhoneNumberID == before.PhoneNumberID && c.AccessToken == before.AccessToken
	for _, k := range checkKeys {
		delete(c.Settings, k)
		if v, ok := before.Settings[k]; ok && unchanged {
			c.Settings[k] = v
		}
	}
}

func (s *Server) registerDirectory() {
	registerCRUD(s, resource[ChannelView, channelIn, channelPatch]{
		name: "channel", path: "/api/channels", tag: "Directory",
		create: func(ctx context.Context, t parley.Tenant, in channelIn) (ChannelView, error) {
			c := parley.Channel{TenantID: t.ID, Type: in.Type, Name: in.Name, PhoneNumberID: in.PhoneNumberID, DisplayNumber: in.DisplayNumber,
				AccessToken: in.AccessToken, Active: in.Active == nil || *in.Active, TestSenders: in.TestSenders, Settings: in.Settings}
			if in.Type == parley.ChannelInstagram {
				if in.PhoneNumberID != "" {
					return ChannelView{}, parley.FieldError("phone_number_id", "an instagram channel takes instagram_account_id")
				}
				c.PhoneNumberID = in.InstagramAccountID
			}
			keepCheck(&c, parley.Channel{})
			if err := checkChannel(&c, parley.Channel{}); err != nil {
				return ChannelView{}, err
			}
			err := s.store.InTx(ctx, func(q *store.Queries) error {
				var err error
				if c, err = q.CreateChannel(ctx, c); err != nil {
					return err
				}
				return s.channelSaved(ctx, q, c)
			})
			return viewChannel(c), err
		},
		get: func(ctx context.Context, tenantID, id string) (ChannelView, error) {
			c, err := s.store.GetChannel(ctx, tenantID, id)
			return viewChannel(c), err
		},
		list: func(ctx context.Context, tenantID string, p store.Page) ([]ChannelView, string, error) {
			cs, next, err := s.store.ListChannels(ctx, tenantID, p)
			out := make([]ChannelView, len(cs))
			for i, c := range cs {
				out[i] = viewChannel(c)
			}
			return out, next, err
		},
		update: func(ctx context.Context, t parley.Tenant, id string, in channelPatch) (ChannelView, error) {
			var c parley.Channel
			// Read, change and write back in one transaction, the row locked:
			// an ownership check recorded meanwhile is read, not overwritten.
			err := s.store.InTx(ctx, func(q *store.Queries) error {
				var err error
				if c, err = q.LockChannel(ctx, t.ID, id); err != nil {
					return err
				}
				before := c
				before.Settings = maps.Clone(c.Settings)
				set(&c.Name, in.Name)
				set(&c.PhoneNumberID, in.PhoneNumberID)
				if c.Type == parley.ChannelInstagram {
					set(&c.PhoneNumberID, in.InstagramAccountID)
				}
				set(&c.DisplayNumber, in.DisplayNumber)
				set(&c.AccessToken, in.AccessToken)
				set(&c.Active, in.Active)
				set(&c.TestSenders, in.TestSenders)
				if in.Settings != nil {
					// Secrets shown as "(set)" come back unchanged from clients
					// that round-trip the view; keep the stored value then.
					merged := map[string]string{}
					for k, v := range *in.Settings {
						if v == "(set)" && secretSettings[k] {
							v = c.Settings[k]
						}
						merged[k] = v
					}
					c.Settings = merged
				}
				keepCheck(&c, before)
				if err := checkChannel(&c, before); err != nil {
					return err
				}
				if err := q.UpdateChannel(ctx, c); err != nil {
					return err
				}
				return s.channelSaved(ctx, q, c)
			})
			if err != nil {
				return ChannelView{}, err
			}
			return viewChannel(c), nil
		},
		delete: s.store.DeleteChannel,
	})

	registerCRUD(s, resource[parley.Customer, customerIn, customerPatch]{
		name: "customer", path: "/api/customers", tag: "Directory",
		create: func(ctx context.Context, t parley.Tenant, in customerIn) (parley.Customer, error) {
			c := parley.Customer{TenantID: t.ID, Phone: in.Phone, Name: in.Name, Email: in.Email, Language: in.Language}
			switch {
			case in.Phone != "" && in.InstagramID != "":
				return c, parley.FieldError("instagram_id", "give phone or instagram_id; link the other with POST /api/customers/{id}/link")
			case in.InstagramID != "":
				if !numeric(in.InstagramID) {
					return c, parley.FieldError("instagram_id", "%q is not an Instagram-scoped id (digits)", in.InstagramID)
				}
				c.Phone = parley.InstagramContact(in.InstagramID)
			case in.Phone == "":
				return c, parley.FieldError("phone", "is required (or instagram_id for a customer known only on Instagram)")
			default:
				if err := normalizeField(&c.Phone, "phone"); err != nil {
					return c, err
				}
			}
			return s.store.CreateCustomer(ctx, c)
		},
		get: func(ctx context.Context, tenantID, id string) (parley.Customer, error) {
			c, err := s.store.GetCustomer(ctx, tenantID, id)
			if err != nil {
				return c, err
			}
			c.Identities, err = s.store.Read().CustomerIdentities(ctx, tenantID, id)
			return c, err
		},
		list: s.store.ListCustomers,
		update: func(ctx context.Context, t parley.Tenant, id string, in customerPatch) (parley.Customer, error) {
			c, err := s.store.GetCustomer(ctx, t.ID, id)
			if err != nil {
				return c, err
			}
			set(&c.Phone, in.Phone)
			set(&c.Name, in.Name)
			set(&c.Email, in.Email)
			set(&c.Language, in.Language)
			if _, ig := parley.InstagramID(c.Phone); !ig || in.Phone != nil {
				if err := normalizeField(&c.Phone, "phone"); err != nil {
					return c, err
				}
			}
			return c, s.store.UpdateCustomer(ctx, c)
		},
		delete: s.store.DeleteCustomer,
	})

	registerCRUD(s, resource[parley.StaffMember, staffIn, staffPatch]{
		name: "staff-member", path: "/api/staff", tag: "Directory",
		create: func(ctx context.Context, t parley.Tenant, in staffIn) (parley.StaffMember, error) {
			m := parley.StaffMember{TenantID: t.ID, Phone: in.Phone, Name: in.Name, Type: strings.ToLower(in.Type)}
			if err := normalizeField(&m.Phone, "phone"); err != nil {
				return m, err
			}
			return s.store.CreateStaffMember(ctx, m)
		},
		get:  s.store.GetStaffMember,
		list: s.store.ListStaffMembers,
		update: func(ctx context.Context, t parley.Tenant, id string, in staffPatch) (parley.StaffMember, error) {
			m, err := s.store.GetStaffMember(ctx, t.ID, id)
			if err != nil {
				return m, err
			}
			set(&m.Phone, in.Phone)
			set(&m.Name, in.Name)
			set(&m.Type, in.Type)
			m.Type = strings.ToLower(m.Type)
			if err := normalizeField(&m.Phone, "phone"); err != nil {
				return m, err
			}
			return m, s.store.UpdateStaffMember(ctx, m)
		},
		delete: s.store.DeleteStaffMember,
	})

	registerCRUD(s, resource[parley.HumanAgent, agentIn, agentPatch]{
		name: "agent", path: "/api/agents", tag: "Directory",
		create: func(ctx context.Context, t parley.Tenant, in agentIn) (parley.HumanAgent, error) {
			return s.saveAgent(ctx, parley.HumanAgent{TenantID: t.ID, Name: in.Name, Email: in.Email, Available: in.Available == nil || *in.Available}, true)
		},
		get:  s.store.GetAgent,
		list: s.store.ListAgents,
		update: func(ctx context.Context, t parley.Tenant, id string, in agentPatch) (parley.HumanAgent, error) {
			a, err := s.store.GetAgent(ctx, t.ID, id)
			if err != nil {
				return a, err
			}
			set(&a.Name, in.Name)
			set(&a.Email, in.Email)
			set(&a.Available, in.Available)
			return s.saveAgent(ctx, a, false)
		},
		delete: s.store.DeleteAgent,
	})

	registerCRUD(s, resource[parley.Document, documentIn, documentPatch]{
		name: "document", path: "/api/documents", tag: "Knowledge",
		create: func(ctx context.Context, t parley.Tenant, in documentIn) (parley.Document, error) {
			return s.store.CreateDocument(ctx, parley.Document{TenantID: t.ID, Title: in.Title, Body: in.Body, Category: in.Category, Source: in.Source})
		},
		get: s.store.GetDocument,
		list: func(ctx context.Context, tenantID string, p store.Page) ([]parley.Document, string, error) {
			return s.store.ListDocuments(ctx, tenantID, "", p)
		},
		update: func(ctx context.Context, t parley.Tenant, id string, in documentPatch) (parley.Document, error) {
			d, err := s.store.GetDocument(ctx, t.ID, id)
			if err != nil {
				return d, err
			}
			set(&d.Title, in.Title)
			set(&d.Body, in.Body)
			set(&d.Category, in.Category)
			set(&d.Source, in.Source)
			return s.store.UpdateDocument(ctx, d)
		},
		delete: s.store.DeleteDocument,
	})
}

// normalizeField rewrites a phone field to E.164 or names it in an error.
func normalizeField(p *string, field string) error {
	n, err := phone.Normalize(*p, "")
	if err != nil {
		return parley.FieldError(field, "%q is not a valid phone number (use international format, e.g. +5511999990000)", *p)
	}
	*p = n
	return nil
}

type customerIn struct {
	Phone       string `json:"phone,omitempty" maxLength:"32" doc:"International format; stored as E.164 (required unless instagram_id is given)"`
	InstagramID string `json:"instagram_id,omitempty" maxLength:"64" doc:"For a customer known only on Instagram: the Instagram-scoped id (IGSID) of their messages"`
	Name        string `json:"name,omitempty" maxLength:"200"`
	Email       string `json:"email,omitempty" maxLength:"320" format:"email"`
	Language    string `json:"language,omitempty" maxLength:"16" doc:"BCP 47 tag, e.g. pt-BR"`
}

type customerPatch struct {
	Phone    *string `json:"phone,omitempty" minLength:"1" maxLength:"32"`
	Name     *string `json:"name,omitempty" maxLength:"200"`
	Email    *string `json:"email,omitempty" maxLength:"320" format:"email"`
	Language *string `json:"language,omitempty" maxLength:"16"`
}

type staffIn struct {
	Phone string `json:"phone" minLength:"1" maxLength:"32"`
	Name  string `json:"name,omitempty" maxLength:"200"`
	Type  string `json:"type" minLength:"1" maxLength:"64" pattern:"^[A-Za-z][A-Za-z0-9_-]*$" doc:"admin, sales, support, returns, …"`
}

type staffPatch struct {
	Phone *string `json:"phone,omitempty" minLength:"1" maxLength:"32"`
	Name  *string `json:"name,omitempty" maxLength:"200"`
	Type  *string `json:"type,omitempty" minLength:"1" maxLength:"64" pattern:"^[A-Za-z][A-Za-z0-9_-]*$"`
}

type agentIn struct {
	Name      string `json:"name" minLength:"1" maxLength:"200"`
	Email     string `json:"email,omitempty" maxLength:"320" format:"email"`
	Available *bool  `json:"available,omitempty" doc:"Default true"`
}

type agentPatch struct {
	Name      *string `json:"name,omitempty" minLength:"1" maxLength:"200"`
	Email     *string `json:"email,omitempty" maxLength:"320" format:"email"`
	Available *bool   `json:"available,omitempty"`
}

type documentIn struct {
	Title    string `json:"title" minLength:"1" maxLength:"500"`
	Body     string `json:"body,omitempty" maxLength:"200000"`
	Category string `json:"category,omitempty" maxLength:"100" doc:"e.g. FAQ, UserQuestion, SupportClassification"`
	Source   string `json:"source,omitempty" maxLength:"100"`
}

type documentPatch struct {
	Title    *string `json:"title,omitempty" minLength:"1" maxLength:"500"`
	Body     *string `json:"body,omitempty" maxLength:"200000"`
	Category *string `json:"category,omitempty" maxLength:"100"`
	Source   *string `json:"source,omitempty" maxLength:"100"`
}

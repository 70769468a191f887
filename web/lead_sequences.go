package web

import (
	"context"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// LeadSequences is what the API needs of the lead sequence service
// (package leads) to deliver follow-ups.
type LeadSequences interface {
	StartSequence(ctx context.Context, tenantID, leadID, interval, visitorID, commandID string) (parley.Sequence, error)
	CancelSequence(ctx context.Context, tenantID, leadID string) (parley.Sequence, error)
	RecordReply(ctx context.Context, tenantID, leadID, channel, summary string) error
}

// idPageInput is an id route's page. Its fields are spelled out: huma
// does not read parameters through embedded unexported structs.
type idPageInput struct {
	ID     string `path:"id" maxLength:"64"`
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
	Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page"`
}

func (p idPageInput) page() store.Page { return store.Page{Limit: p.Limit, Cursor: p.Cursor} }

type commandListInput struct {
	LeadID string `query:"lead_id" maxLength:"64" doc:"Only this lead's commands"`
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
	Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page"`
}

type sequenceIn struct {
	FollowUpInterval      string `json:"follow_up_interval,omitempty" maxLength:"100" doc:"e.g. \"3 days\", \"weekly\", \"every 2-3 days\" (refused when it is no interval); default: the follow-up's own followUpInterval when it reads as one, else 3 days"`
	FollowUpIntervalCamel string `json:"followUpInterval,omitempty" maxLength:"100" doc:"Same as follow_up_interval"`
	VisitorID             string `json:"visitor_id,omitempty" maxLength:"64" doc:"Visitor for notifications and banners; default: the follow-up's"`
	CommandID             string `json:"command_id,omitempty" maxLength:"64" doc:"Follow-up command to deliver; default: the lead's latest"`
}

type replyIn struct {
	Channel string `json:"channel,omitempty" enum:"email,whatsapp,notification,web,call,other" doc:"Where the lead replied; default other"`
	Summary string `json:"summary,omitempty" maxLength:"2000"`
}

type bannerInput struct {
	ID            string `path:"id" maxLength:"64"`
	Visitor       string `query:"visitor" maxLength:"64" doc:"The visitor the banner is for (required)"`
	Key           string `query:"key" maxLength:"128" doc:"The site's publishable site_key (or send X-Site-Key)"`
	SiteKey       string `header:"X-Site-Key" maxLength:"128"`
	Authorization string `header:"Authorization" doc:"Alternatively, Bearer <tenant API key>"`
}

// BannerView is what a site's page shows, or null.
type BannerView struct {
	Banner *parley.VisitorMessage `json:"banner"`
}

type bannerOut struct {
	AllowOrigin string `header:"Access-Control-Allow-Origin"`
	Body        BannerView
}

func (s *Server) registerLeadActivity(seqs LeadSequences) {
	huma.Register(s.api, huma.Operation{OperationID: "list-commands", Method: http.MethodGet, Path: "/api/commands", Summary: "List AI commands (lead sequence phases)",
		Tags: []string{"Leads"}, Security: bearer},
		func(ctx context.Context, in *commandListInput) (*bodyOut[PageOf[parley.LeadCommand]], error) {
			items, next, err := s.store.ListCommands(ctx, TenantFrom(ctx).ID, in.LeadID, store.Page{Limit: in.Limit, Cursor: in.Cursor})
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[PageOf[parley.LeadCommand]]{Body: PageOf[parley.LeadCommand]{Items: items, NextCursor: next}}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "get-command", Method: http.MethodGet, Path: "/api/commands/{id}", Summary: "Get an AI command",
		Tags: []string{"Leads"}, Security: bearer},
		func(ctx context.Context, in *idInput) (*bodyOut[parley.LeadCommand], error) {
			c, err := s.store.GetCommand(ctx, TenantFrom(ctx).ID, in.ID)
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[parley.LeadCommand]{Body: c}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "list-lead-events", Method: http.MethodGet, Path: "/api/leads/{id}/events", Summary: "A lead's event log, oldest first",
		Tags: []string{"Leads"}, Security: bearer},
		func(ctx context.Context, in *idPageInput) (*bodyOut[PageOf[parley.LeadEvent]], error) {
			t := TenantFrom(ctx)
			if _, err := s.store.GetLead(ctx, t.ID, in.ID); err != nil {
				return nil, apiError(err)
			}
			items, next, err := s.store.ListLeadEvents(ctx, t.ID, in.ID, in.page())
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[PageOf[parley.LeadEvent]]{Body: PageOf[parley.LeadEvent]{Items: items, NextCursor: next}}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "get-lead-sequence", Method: http.MethodGet, Path: "/api/leads/{id}/sequence", Summary: "The lead's latest follow-up sequence with its steps",
		Tags: []string{"Leads"}, Security: bearer},
		func(ctx context.Context, in *idInput) (*bodyOut[parley.Sequence], error) {
			t := TenantFrom(ctx)
			if _, err := s.store.GetLead(ctx, t.ID, in.ID); err != nil {
				return nil, apiError(err)
			}
			seq, err := s.store.LatestSequence(ctx, t.ID, in.ID)
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[parley.Sequence]{Body: seq}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "list-visitor-notifications", Method: http.MethodGet, Path: "/api/visitors/{id}/notifications",
		Summary: "A visitor's in-app notifications, oldest first", Tags: []string{"Leads"}, Security: bearer},
		func(ctx context.Context, in *idPageInput) (*bodyOut[PageOf[parley.VisitorMessage]], error) {
			t := TenantFrom(ctx)
			if _, err := s.store.GetVisitor(ctx, t.ID, in.ID); err != nil {
				return nil, apiError(err)
			}
			items, next, err := s.store.ListVisitorMessages(ctx, t.ID, in.ID, parley.LeadChannelNotification, in.page())
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[PageOf[parley.VisitorMessage]]{Body: PageOf[parley.VisitorMessage]{Items: items, NextCursor: next}}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "get-site-banner", Method: http.MethodGet, Path: "/api/sites/{id}/banner",
		Summary: "The banner a site shows a visitor",
		Description: "Called by the site's own pages: authenticate with the site's publishable site_key (?key= or X-Site-Key), " +
			"which reads banners only, or with the tenant's API key. Answers {\"banner\": null} when there is none.",
		Tags: []string{"Leads"}},
		func(ctx context.Context, in *bannerInput) (*bannerOut, error) {
			site, err := s.bannerSite(ctx, in)
			if err != nil {
				return nil, apiError(err)
			}
			if in.Visitor == "" {
				return nil, apiError(parley.FieldError("visitor", "is required"))
			}
			v, err := s.store.GetVisitor(ctx, site.TenantID, in.Visitor)
			if err != nil || v.SiteID != site.ID {
				return nil, apiError(parley.Errorf(parley.CodeNotFound, "visitor not found on this site"))
			}
			out := &bannerOut{AllowOrigin: origin(site.URL)}
			b, err := s.store.CurrentBanner(ctx, site.TenantID, site.ID, v.ID)
			switch {
			case err == nil:
				out.Body.Banner = &b
			case parley.ErrorCode(err) != parley.CodeNotFound:
				return nil, apiError(err)
			}
			return out, nil
		})

	if seqs == nil {
		return
	}
	huma.Register(s.api, huma.Operation{OperationID: "start-lead-sequence", Method: http.MethodPost, Path: "/api/leads/{id}/sequence",
		Summary: "Deliver the lead's latest follow-up as a sequence", Tags: []string{"Leads"}, Security: bearer, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64"`
			Body sequenceIn
		}) (*bodyOut[parley.Sequence], error) {
			interval := in.Body.FollowUpInterval
			if interval == "" {
				interval = in.Body.FollowUpIntervalCamel
			}
			seq, err := seqs.StartSequence(ctx, TenantFrom(ctx).ID, in.ID, interval, in.Body.VisitorID, in.Body.CommandID)
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[parley.Sequence]{Body: seq}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "cancel-lead-sequence", Method: http.MethodDelete, Path: "/api/leads/{id}/sequence",
		Summary: "Cancel the lead's active sequence", Tags: []string{"Leads"}, Security: bearer},
		func(ctx context.Context, in *idInput) (*bodyOut[parley.Sequence], error) {
			seq, err := seqs.CancelSequence(ctx, TenantFrom(ctx).ID, in.ID)
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[parley.Sequence]{Body: seq}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "record-lead-reply", Method: http.MethodPost, Path: "/api/leads/{id}/replies",
		Summary: "Record that the lead replied (stops the active sequence)", Tags: []string{"Leads"}, Security: bearer, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64"`
			Body replyIn
		}) (*struct{}, error) {
			channel := in.Body.Channel
			if channel == "" {
				channel = "other"
			}
			if err := seqs.RecordReply(ctx, TenantFrom(ctx).ID, in.ID, channel, in.Body.Summary); err != nil {
				return nil, apiError(err)
			}
			return &struct{}{}, nil
		})
}

var errBannerAuth = parley.Errorf(parley.CodeUnauthorized, "send the site's site_key (?key= or X-Site-Key) or an API key of its tenant")

// bannerSite authenticates a banner request: an API key finds the site
// among its tenant's (another tenant's site is not found), a site key must
// be the site's own.
func (s *Server) bannerSite(ctx context.Context, in *bannerInput) (parley.Site, error) {
	if secret, ok := strings.CutPrefix(in.Authorization, "Bearer "); ok && strings.TrimSpace(secret) != "" {
		t, err := s.store.TenantByAPIKey(ctx, strings.TrimSpace(secret))
		if parley.ErrorCode(err) == parley.CodeNotFound {
			return parley.Site{}, errBannerAuth
		}
		if err != nil {
			return parley.Site{}, err
		}
		if err := s.spend(t.ID); err != nil {
			return parley.Site{}, err
		}
		return s.store.GetSite(ctx, t.ID, in.ID)
	}
	key := in.Key
	if key == "" {
		key = in.SiteKey
	}
	if key == "" {
		return parley.Site{}, errBannerAuth
	}
	site, err := s.store.SiteByID(ctx, in.ID)
	if parley.ErrorCode(err) == parley.CodeNotFound || (err == nil && subtle.ConstantTimeCompare([]byte(key), []byte(site.SiteKey)) != 1) {
		return parley.Site{}, errBannerAuth
	}
	if err != nil {
		return parley.Site{}, err
	}
	// Visitors' browsers call with the site key: a bucket per site, so a
	// busy site cannot use up its tenant's API calls.
	if err := s.spend("site:" + site.ID); err != nil {
		return parley.Site{}, err
	}
	return site, nil
}

// origin is the scheme and host of a site URL, for CORS ("" when unknown).
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

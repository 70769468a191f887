package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/store"
)

// BroadcastIn is POST /api/broadcasts.
type BroadcastIn struct {
	Name         string        `json:"name,omitempty" maxLength:"200" doc:"shown in the dashboard; default the template's name"`
	ChannelID    string        `json:"channel_id" maxLength:"64" doc:"the WhatsApp or Twilio channel that sends"`
	TemplateName string        `json:"template_name" maxLength:"512" doc:"an approved template (synced, for a WhatsApp channel)"`
	Language     string        `json:"language,omitempty" maxLength:"20" doc:"e.g. en_US; empty: the synced template's"`
	Parameters   []string      `json:"parameters,omitempty" maxItems:"20" doc:"body {{1}}, {{2}}, ...: text that may use {{name}}, {{first_name}}, {{phone}}"`
	Segment      store.Segment `json:"segment,omitempty" doc:"which customers; empty selects every customer"`
	SendAt       string        `json:"send_at,omitempty" maxLength:"40" doc:"RFC 3339, or a local 2026-12-24T09:00 in the tenant's time zone; empty: now"`
	RatePerSec   int           `json:"rate_per_second,omitempty" minimum:"0" maximum:"1000" doc:"messages per second, 1 to 80 (default the tenant's setting, else 20)"`
	Category     string        `json:"category,omitempty" maxLength:"20" doc:"Twilio channels only: marketing (default), utility or authentication"`
}

// CustomerMarketingIn is PUT /api/customers/{id}/marketing.
type CustomerMarketingIn struct {
	Tags    []string `json:"tags" required:"false" maxItems:"50" doc:"replaces the customer's tags (absent: none)"`
	OptedIn bool     `json:"opted_in" required:"false" doc:"the customer agreed to marketing (absent: false); true also clears an opt-out (they asked to hear from you again)"`
}

// BroadcastSettingsIn is PUT /api/broadcast-settings.
type BroadcastSettingsIn struct {
	OptOutWords []string           `json:"opt_out_words,omitempty" maxItems:"50" doc:"a message that is exactly one of these opts out; empty: the defaults (STOP always counts)"`
	OptOutReply string             `json:"opt_out_reply,omitempty" maxLength:"1000" doc:"the confirmation; empty: a default in the conversation's language"`
	RatePerSec  int                `json:"rate_per_second,omitempty" minimum:"0" maximum:"80" doc:"default rate of new broadcasts (0: 20)"`
	Prices      map[string]float64 `json:"prices,omitempty" doc:"USD per message by category (marketing, utility, authentication), for the cost estimate"`
}

// BroadcastSettingsOut is the settings with the words and prices in force.
type BroadcastSettingsOut struct {
	store.BroadcastSettings
	WordsInForce  []string           `json:"opt_out_words_in_force"`
	PricesInForce map[string]float64 `json:"prices_in_force"`
}

func broadcastRefused(r *campaign.Refusal) error {
	return &ErrorBody{status: http.StatusUnprocessableEntity, Err: ErrorDetail{Code: parley.Code(r.Code), Message: r.Message}}
}

func (s *Server) registerBroadcasts(b *campaign.Broadcasts) {
	tags := []string{"Broadcasts"}
	view := func(ctx context.Context, bc store.Broadcast) (*bodyOut[campaign.BroadcastView], error) {
		v, err := campaign.View(ctx, s.store.Read(), bc)
		if err != nil {
			return nil, apiError(err)
		}
		return &bodyOut[campaign.BroadcastView]{Body: v}, nil
	}
	huma.Register(s.api, huma.Operation{OperationID: "create-broadcast", Method: http.MethodPost, Path: "/api/broadcasts",
		Summary: "Send an approved template to a segment of customers",
		Description: "Refused with 422 and a code when it cannot be sent: unknown_channel, channel_sends_no_templates, template_required, " +
			"template_not_synced, template_not_approved, parameter_count_mismatch, unknown_parameter_value, empty_segment, bad_send_at, " +
			"rate_out_of_range, unknown_category. The segment is taken at creation; opt-outs are checked again at each send.",
		Tags: tags, Security: bearer, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct{ Body BroadcastIn }) (*bodyOut[campaign.BroadcastView], error) {
			bc, refusal, err := b.Create(ctx, TenantFrom(ctx), campaign.BroadcastRequest{Name: in.Body.Name, ChannelID: in.Body.ChannelID,
				TemplateName: in.Body.TemplateName, Language: in.Body.Language, Parameters: in.Body.Parameters, Segment: in.Body.Segment,
				SendAt: in.Body.SendAt, RatePerSec: in.Body.RatePerSec, Category: in.Body.Category})
			if err != nil {
				return nil, apiError(err)
			}
			if refusal != nil {
				return nil, broadcastRefused(refusal)
			}
			return view(ctx, bc)
		})
	huma.Register(s.api, huma.Operation{OperationID: "list-broadcasts", Method: http.MethodGet, Path: "/api/broadcasts",
		Summary: "The tenant's broadcasts, newest first, with stats", Tags: tags, Security: bearer},
		func(ctx context.Context, in *PageParams) (*bodyOut[PageOf[campaign.BroadcastView]], error) {
			q := s.store.Read()
			items, next, err := q.ListBroadcasts(ctx, TenantFrom(ctx).ID, in.page())
			if err != nil {
				return nil, apiError(err)
			}
			out := PageOf[campaign.BroadcastView]{Items: make([]campaign.BroadcastView, 0, len(items)), NextCursor: next}
			for _, bc := range items {
				v, err := campaign.View(ctx, q, bc)
				if err != nil {
					return nil, apiError(err)
				}
				out.Items = append(out.Items, v)
			}
			return &bodyOut[PageOf[campaign.BroadcastView]]{Body: out}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "get-broadcast", Method: http.MethodGet, Path: "/api/broadcasts/{id}",
		Summary: "A broadcast with its stats, progress and cost estimate", Tags: tags, Security: bearer},
		func(ctx context.Context, in *idInput) (*bodyOut[campaign.BroadcastView], error) {
			bc, err := s.store.Read().GetBroadcast(ctx, TenantFrom(ctx).ID, in.ID)
			if err != nil {
				return nil, apiError(err)
			}
			return view(ctx, bc)
		})
	huma.Register(s.api, huma.Operation{OperationID: "list-broadcast-recipients", Method: http.MethodGet, Path: "/api/broadcasts/{id}/recipients",
		Summary:     "A broadcast's recipients in order, each with its outcome",
		Description: "outcome: pending, queued, sent, delivered, read, replied, failed (with the provider's reason), opted_out, skipped or cancelled (with the reason).",
		Tags:        tags, Security: bearer},
		func(ctx context.Context, in *struct {
			ID      string `path:"id" maxLength:"64"`
			Outcome string `query:"outcome" enum:"pending,queued,sent,delivered,read,replied,failed,opted_out,skipped,cancelled," doc:"only this outcome"`
			PageParams
		}) (*bodyOut[PageOf[store.BroadcastRecipient]], error) {
			q := s.store.Read()
			if _, err := q.GetBroadcast(ctx, TenantFrom(ctx).ID, in.ID); err != nil {
				return nil, apiError(err)
			}
			items, next, err := q.ListRecipients(ctx, TenantFrom(ctx).ID, in.ID, in.Outcome, in.page())
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[PageOf[store.BroadcastRecipient]]{Body: PageOf[store.BroadcastRecipient]{Items: items, NextCursor: next}}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "cancel-broadcast", Method: http.MethodPost, Path: "/api/broadcasts/{id}/cancel",
		Summary: "Stop a broadcast: nobody else is sent it (409 when it has finished or was cancelled)", Tags: tags, Security: bearer},
		func(ctx context.Context, in *idInput) (*bodyOut[campaign.BroadcastView], error) {
			bc, err := b.Cancel(ctx, TenantFrom(ctx).ID, in.ID)
			if err != nil {
				return nil, apiError(err)
			}
			return view(ctx, bc)
		})
	settingsOut := func(st store.BroadcastSettings) *bodyOut[BroadcastSettingsOut] {
		prices := map[string]float64{}
		for k, v := range campaign.DefaultPrices {
			prices[k] = v
		}
		for k, v := range st.Prices {
			prices[k] = v
		}
		if st.OptOutWords == nil {
			st.OptOutWords = []string{}
		}
		return &bodyOut[BroadcastSettingsOut]{Body: BroadcastSettingsOut{BroadcastSettings: st, WordsInForce: campaign.OptOutWords(st), PricesInForce: prices}}
	}
	huma.Register(s.api, huma.Operation{OperationID: "get-broadcast-settings", Method: http.MethodGet, Path: "/api/broadcast-settings",
		Summary: "Opt-out words, their confirmation, the default rate and the prices of the cost estimate", Tags: tags, Security: bearer},
		func(ctx context.Context, _ *struct{}) (*bodyOut[BroadcastSettingsOut], error) {
			st, err := s.store.Read().GetBroadcastSettings(ctx, TenantFrom(ctx).ID)
			if err != nil {
				return nil, apiError(err)
			}
			return settingsOut(st), nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "put-broadcast-settings", Method: http.MethodPut, Path: "/api/broadcast-settings",
		Summary: "Replace the broadcast settings", Tags: tags, Security: bearer},
		func(ctx context.Context, in *struct{ Body BroadcastSettingsIn }) (*bodyOut[BroadcastSettingsOut], error) {
			st := store.BroadcastSettings{OptOutWords: in.Body.OptOutWords, OptOutReply: in.Body.OptOutReply, RatePerSec: in.Body.RatePerSec, Prices: in.Body.Prices}
			if err := campaign.CheckSettings(st); err != nil {
				return nil, apiError(err)
			}
			tenantID := TenantFrom(ctx).ID
			if err := s.store.InTx(ctx, func(q *store.Queries) error { return q.PutBroadcastSettings(ctx, tenantID, st) }); err != nil {
				return nil, apiError(err)
			}
			st, err := s.store.GetBroadcastSettings(ctx, tenantID)
			if err != nil {
				return nil, apiError(err)
			}
			return settingsOut(st), nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "get-customer-marketing", Method: http.MethodGet, Path: "/api/customers/{id}/marketing",
		Summary: "A customer's tags, marketing consent and opt-out", Tags: tags, Security: bearer},
		func(ctx context.Context, in *idInput) (*bodyOut[store.CustomerMarketing], error) {
			m, err := s.store.Read().GetCustomerMarketing(ctx, TenantFrom(ctx).ID, in.ID)
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[store.CustomerMarketing]{Body: m}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "put-customer-marketing", Method: http.MethodPut, Path: "/api/customers/{id}/marketing",
		Summary: "Set a customer's tags and marketing consent", Tags: tags, Security: bearer},
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64"`
			Body CustomerMarketingIn
		}) (*bodyOut[store.CustomerMarketing], error) {
			tenantID := TenantFrom(ctx).ID
			var m store.CustomerMarketing
			err := s.store.InTx(ctx, func(q *store.Queries) error {
				c, err := q.GetCustomer(ctx, tenantID, in.ID)
				if err != nil {
					return err
				}
				var tags []string
				for _, t := range in.Body.Tags {
					if t = strings.TrimSpace(t); t != "" {
						tags = append(tags, t)
					}
				}
				if err := q.SetCustomerTags(ctx, tenantID, c.ID, tags); err != nil {
					return err
				}
				if err := q.SetCustomerConsent(ctx, tenantID, c.ID, in.Body.OptedIn); err != nil {
					return err
				}
				if in.Body.OptedIn {
					if err := q.DeleteOptOut(ctx, tenantID, c.Phone); err != nil {
						return err
					}
				}
				m, err = q.GetCustomerMarketing(ctx, tenantID, c.ID)
				return err
			})
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[store.CustomerMarketing]{Body: m}, nil
		})
}

package web

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/store"
)

// TemplateMappings is GET /api/template-mappings: the tenant's mappings and
// the purposes they can map, with the values each offers its parameters.
type TemplateMappings struct {
	Mappings []store.TemplateMapping `json:"mappings"`
	Purposes []campaign.Spec         `json:"purposes"`
}

// TemplateMappingIn is PUT /api/template-mappings/{purpose}/{channel_type}.
type TemplateMappingIn struct {
	Name       string   `json:"template_name" minLength:"1" maxLength:"512" doc:"the approved template's name"`
	Language   string   `json:"language,omitempty" maxLength:"20" doc:"e.g. en_US; empty sends the conversation's language"`
	Parameters []string `json:"parameters" maxItems:"20" doc:"the purpose's values filling body {{1}}, {{2}}, ... in order"`
	Enabled    *bool    `json:"enabled,omitempty" doc:"default true; a disabled purpose is not sent"`
}

type mappingKey struct {
	Purpose     string `path:"purpose" maxLength:"64"`
	ChannelType string `path:"channel_type" maxLength:"32"`
}

// refused is a mapping refused at save: 422 with the refusal's own code.
func refused(r *campaign.Refusal) error {
	return &ErrorBody{status: http.StatusUnprocessableEntity, Err: ErrorDetail{Code: parley.Code(r.Code), Message: r.Message}}
}

func (s *Server) registerTemplates(lister campaign.Lister) {
	tags := []string{"Templates"}
	huma.Register(s.api, huma.Operation{OperationID: "list-template-mappings", Method: http.MethodGet, Path: "/api/template-mappings",
		Summary: "Which template each outbound purpose sends", Tags: tags, Security: bearer},
		func(ctx context.Context, _ *struct{}) (*bodyOut[TemplateMappings], error) {
			ms, err := s.store.Read().ListTemplateMappings(ctx, TenantFrom(ctx).ID)
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[TemplateMappings]{Body: TemplateMappings{Mappings: ms, Purposes: campaign.Specs()}}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "put-template-mapping", Method: http.MethodPut, Path: "/api/template-mappings/{purpose}/{channel_type}",
		Summary:     "Map a purpose to a template",
		Description: "Refused with 422 and a code (unknown_purpose, unknown_channel_type, unknown_parameter_value, template_not_synced, template_not_approved, parameter_count_mismatch) when the mapping cannot be sent; checked against the synced templates once the tenant has synced them.",
		Tags:        tags, Security: bearer},
		func(ctx context.Context, in *struct {
			Purpose     string `path:"purpose" maxLength:"64"`
			ChannelType string `path:"channel_type" maxLength:"32"`
			Body        TemplateMappingIn
		}) (*bodyOut[store.TemplateMapping], error) {
			m := store.TemplateMapping{TenantID: TenantFrom(ctx).ID, Purpose: in.Purpose, ChannelType: in.ChannelType,
				Name: in.Body.Name, Language: in.Body.Language, Parameters: in.Body.Parameters, Enabled: in.Body.Enabled == nil || *in.Body.Enabled}
			var out store.TemplateMapping
			err := s.store.InTx(ctx, func(q *store.Queries) error {
				r, err := campaign.Check(ctx, q, m)
				if err != nil {
					return err
				}
				if r != nil {
					return refused(r)
				}
				out, err = q.PutTemplateMapping(ctx, m)
				return err
			})
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[store.TemplateMapping]{Body: out}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "delete-template-mapping", Method: http.MethodDelete, Path: "/api/template-mappings/{purpose}/{channel_type}",
		Summary: "Remove a mapping: the purpose is no longer sent (skipped with its reason)", Tags: tags, Security: bearer, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *mappingKey) (*struct{}, error) {
			return nil, apiError(s.store.InTx(ctx, func(q *store.Queries) error {
				return q.DeleteTemplateMapping(ctx, TenantFrom(ctx).ID, in.Purpose, in.ChannelType)
			}))
		})
	huma.Register(s.api, huma.Operation{OperationID: "create-default-template-mappings", Method: http.MethodPost, Path: "/api/template-mappings/defaults",
		Summary: "Set every purpose to the built-in template names", Tags: tags, Security: bearer},
		func(ctx context.Context, _ *struct{}) (*bodyOut[TemplateMappings], error) {
			var ms []store.TemplateMapping
			err := s.store.InTx(ctx, func(q *store.Queries) error {
				if err := q.PutDefaultTemplateMappings(ctx, TenantFrom(ctx).ID); err != nil {
					return err
				}
				var err error
				ms, err = q.ListTemplateMappings(ctx, TenantFrom(ctx).ID)
				return err
			})
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[TemplateMappings]{Body: TemplateMappings{Mappings: ms, Purposes: campaign.Specs()}}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "list-templates", Method: http.MethodGet, Path: "/api/templates",
		Summary: "The WhatsApp templates last synced", Tags: tags, Security: bearer},
		func(ctx context.Context, _ *struct{}) (*bodyOut[[]store.SyncedTemplate], error) {
			ts, err := s.store.Read().SyncedTemplates(ctx, TenantFrom(ctx).ID)
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[[]store.SyncedTemplate]{Body: ts}, nil
		})
	if lister == nil {
		return
	}
	huma.Register(s.api, huma.Operation{OperationID: "sync-templates", Method: http.MethodPost, Path: "/api/templates/sync",
		Summary:     "Read the WhatsApp Business Accounts' templates from the Graph API",
		Description: "For every WhatsApp channel whose settings name its waba_id; the listing replaces the last sync.",
		Tags:        tags, Security: bearer},
		func(ctx context.Context, _ *struct{}) (*bodyOut[[]store.SyncedTemplate], error) {
			res, err := campaign.Sync(ctx, s.store, lister, TenantFrom(ctx).ID)
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[[]store.SyncedTemplate]{Body: res.Templates}, nil
		})
}

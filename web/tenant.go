package web

import (
	"context"
	"net/http"
	"regexp"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley"
)

type tenantPatch struct {
	Name            *string             `json:"name,omitempty" minLength:"1" maxLength:"200"`
	Modules         *[]string           `json:"modules,omitempty" maxItems:"32" doc:"e.g. APPOINTMENTS"`
	Features        *map[string]bool    `json:"features,omitempty" doc:"e.g. {\"followups\": true}"`
	TimeZone        *string             `json:"time_zone,omitempty" maxLength:"64" doc:"IANA name, e.g. America/Sao_Paulo"`
	Availability    *parley.WeeklyHours `json:"availability,omitempty" doc:"Weekly opening hours in the tenant's time zone; empty means always open"`
	DefaultLanguage *string             `json:"default_language,omitempty" minLength:"2" maxLength:"16"`
}

var hhmm = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$`)

var weekdays = map[string]bool{"monday": true, "tuesday": true, "wednesday": true, "thursday": true, "friday": true, "saturday": true, "sunday": true}

// checkTenant validates settings that JSON Schema cannot express.
func checkTenant(t parley.Tenant) error {
	if _, err := time.LoadLocation(t.TimeZone); err != nil || t.TimeZone == "" {
		return parley.FieldError("time_zone", "%q is not a known IANA time zone", t.TimeZone)
	}
	for day, intervals := range t.Availability {
		if !weekdays[day] {
			return parley.FieldError("availability", "%q is not a weekday (use monday … sunday)", day)
		}
		for _, iv := range intervals {
			if !hhmm.MatchString(iv.Start) || !hhmm.MatchString(iv.End) || iv.Start >= iv.End {
				return parley.FieldError("availability", "%s: %q–%q is not an interval of HH:MM times with start before end", day, iv.Start, iv.End)
			}
		}
	}
	return nil
}

type apiKeyIn struct {
	Name string `json:"name" minLength:"1" maxLength:"100"`
}

// NewAPIKey is a created key with its secret, shown only this once.
type NewAPIKey struct {
	parley.APIKey
	Key string `json:"key" doc:"The secret; store it now, it is never shown again"`
}

func (s *Server) registerTenant() {
	huma.Register(s.api, huma.Operation{OperationID: "get-tenant", Method: http.MethodGet, Path: "/api/tenant", Summary: "The key's tenant and its settings",
		Tags: []string{"Tenant"}, Security: bearer},
		func(ctx context.Context, _ *struct{}) (*bodyOut[parley.Tenant], error) {
			return &bodyOut[parley.Tenant]{Body: TenantFrom(ctx)}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "update-tenant", Method: http.MethodPatch, Path: "/api/tenant", Summary: "Change the tenant's settings",
		Tags: []string{"Tenant"}, Security: bearer},
		func(ctx context.Context, in *struct{ Body tenantPatch }) (*bodyOut[parley.Tenant], error) {
			t := TenantFrom(ctx)
			set(&t.Name, in.Body.Name)
			set(&t.Modules, in.Body.Modules)
			set(&t.Features, in.Body.Features)
			set(&t.TimeZone, in.Body.TimeZone)
			set(&t.Availability, in.Body.Availability)
			set(&t.DefaultLanguage, in.Body.DefaultLanguage)
			if err := checkTenant(t); err != nil {
				return nil, apiError(err)
			}
			if err := s.store.UpdateTenant(ctx, t); err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[parley.Tenant]{Body: t}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "list-api-keys", Method: http.MethodGet, Path: "/api/api-keys", Summary: "List API keys",
		Tags: []string{"Tenant"}, Security: bearer},
		func(ctx context.Context, in *struct{ PageParams }) (*bodyOut[PageOf[parley.APIKey]], error) {
			keys, next, err := s.store.ListAPIKeysPage(ctx, TenantFrom(ctx).ID, in.page())
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[PageOf[parley.APIKey]]{Body: PageOf[parley.APIKey]{Items: keys, NextCursor: next}}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "create-api-key", Method: http.MethodPost, Path: "/api/api-keys", Summary: "Create an API key",
		Tags: []string{"Tenant"}, Security: bearer, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct{ Body apiKeyIn }) (*bodyOut[NewAPIKey], error) {
			k, secret, err := s.store.CreateAPIKey(ctx, TenantFrom(ctx).ID, in.Body.Name)
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[NewAPIKey]{Body: NewAPIKey{APIKey: k, Key: secret}}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "revoke-api-key", Method: http.MethodDelete, Path: "/api/api-keys/{id}", Summary: "Revoke an API key",
		Tags: []string{"Tenant"}, Security: bearer, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *idInput) (*struct{}, error) {
			if err := s.store.RevokeAPIKey(ctx, TenantFrom(ctx).ID, in.ID); err != nil {
				return nil, apiError(err)
			}
			return &struct{}{}, nil
		})
}

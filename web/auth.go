package web

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley"
)

type tenantKey struct{}

// TenantFrom returns the tenant the request's API key belongs to.
func TenantFrom(ctx context.Context) parley.Tenant {
	t, _ := ctx.Value(tenantKey{}).(parley.Tenant)
	return t
}

// WithTenant puts a tenant in the context, as the auth middleware does.
func WithTenant(ctx context.Context, t parley.Tenant) context.Context {
	return context.WithValue(ctx, tenantKey{}, t)
}

// requireAPIKey resolves "Authorization: Bearer <key>" to a tenant for every
// operation that declares the bearer security scheme; anything else is 401.
func (s *Server) requireAPIKey(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if op == nil || len(op.Security) == 0 {
		next(ctx)
		return
	}
	header := ctx.Header("Authorization")
	secret, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || strings.TrimSpace(secret) == "" {
		s.writeErr(ctx, &ErrorBody{status: http.StatusUnauthorized, Err: ErrorDetail{Code: parley.CodeUnauthorized, Message: "missing API key: send Authorization: Bearer <key>"}})
		return
	}
	tenant, err := s.store.TenantByAPIKey(ctx.Context(), strings.TrimSpace(secret))
	if err != nil {
		if parley.ErrorCode(err) != parley.CodeNotFound {
			s.log.ErrorContext(ctx.Context(), "api key lookup failed", "err", err)
			s.writeErr(ctx, apiError(err).(*ErrorBody))
			return
		}
		s.writeErr(ctx, &ErrorBody{status: http.StatusUnauthorized, Err: ErrorDetail{Code: parley.CodeUnauthorized, Message: "invalid or revoked API key"}})
		return
	}
	if ok, after := s.apiLimit.Allow(tenant.ID); !ok {
		ctx.SetHeader("Retry-After", retryAfter(after))
		s.writeErr(ctx, tooManyForTenant)
		return
	}
	// parley.WithTenant too: LLM tokens spent for the request are charged
	// to this tenant (usage.Meter).
	hc := huma.WithValue(ctx, tenantKey{}, tenant)
	next(huma.WithContext(hc, parley.WithTenant(hc.Context(), tenant.ID)))
}

var tooManyForTenant = &ErrorBody{status: http.StatusTooManyRequests, Err: ErrorDetail{Code: parley.CodeRateLimited,
	Message: "too many requests for this tenant; retry after the Retry-After seconds"}}

// retryAfter is a Retry-After value: whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// spend counts one request against key's share of the API limit (a
// tenant id, or a site for its publishable key); over it, the error is the
// 429 to answer, with its Retry-After.
func (s *Server) spend(key string) error {
	if ok, after := s.apiLimit.Allow(key); !ok {
		return huma.ErrorWithHeaders(tooManyForTenant, http.Header{"Retry-After": {retryAfter(after)}})
	}
	return nil
}

// KeyResolver resolves a tenant API key, as a plain handler that
// authenticates its own requests needs.
type KeyResolver interface {
	TenantByAPIKey(ctx context.Context, secret string) (parley.Tenant, error)
}

// HandleKeyed mounts a plain handler that reads the API key itself (it keeps
// an error body of its own) under the same per-tenant limit as the rest of
// /api. The key is resolved once here and counted against its tenant;
// build makes the handler with a resolver that already knows the answer.
// A missing or unknown key goes to the handler as is, to be refused in its
// own words; tooMany writes its 429 (Retry-After is set).
func (s *Server) HandleKeyed(pattern string, build func(KeyResolver) http.Handler, tooMany http.Handler) {
	plain := build(s.store)
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		secret = strings.TrimSpace(secret)
		if !ok || secret == "" {
			plain.ServeHTTP(w, r)
			return
		}
		tenant, err := s.store.TenantByAPIKey(r.Context(), secret)
		if err != nil {
			plain.ServeHTTP(w, r)
			return
		}
		if ok, after := s.apiLimit.Allow(tenant.ID); !ok {
			w.Header().Set("Retry-After", retryAfter(after))
			tooMany.ServeHTTP(w, r)
			return
		}
		build(resolvedKey{KeyResolver: s.store, secret: secret, tenant: tenant}).ServeHTTP(w, r)
	}))
}

// resolvedKey answers for the key HandleKeyed already resolved.
type resolvedKey struct {
	KeyResolver
	secret string
	tenant parley.Tenant
}

func (k resolvedKey) TenantByAPIKey(ctx context.Context, secret string) (parley.Tenant, error) {
	if secret == k.secret {
		return k.tenant, nil
	}
	return k.KeyResolver.TenantByAPIKey(ctx, secret)
}

func (s *Server) writeErr(ctx huma.Context, e *ErrorBody) {
	ctx.SetHeader("Content-Type", "application/json")
	ctx.SetStatus(e.status)
	_ = s.api.Marshal(ctx.BodyWriter(), "application/json", e)
}

package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"

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
		ctx.SetHeader("Retry-After", strconv.Itoa(int(after.Seconds())))
		s.writeErr(ctx, &ErrorBody{status: http.StatusTooManyRequests, Err: ErrorDetail{Code: parley.CodeRateLimited, Message: "too many requests for this tenant; retry after the Retry-After seconds"}})
		return
	}
	next(huma.WithValue(ctx, tenantKey{}, tenant))
}

func (s *Server) writeErr(ctx huma.Context, e *ErrorBody) {
	ctx.SetHeader("Content-Type", "application/json")
	ctx.SetStatus(e.status)
	_ = s.api.Marshal(ctx.BodyWriter(), "application/json", e)
}

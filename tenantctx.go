package parley

import "context"

type tenantKey struct{}

// WithTenant says on whose behalf the work under ctx runs. Shared
// resources that bill per call (the operator's LLM key) read it to charge
// the right tenant; see TenantFrom.
func WithTenant(ctx context.Context, tenantID string) context.Context {
	if tenantID == "" {
		return ctx
	}
	return context.WithValue(ctx, tenantKey{}, tenantID)
}

// TenantFrom returns the tenant WithTenant put in ctx, or "".
func TenantFrom(ctx context.Context) string {
	id, _ := ctx.Value(tenantKey{}).(string)
	return id
}

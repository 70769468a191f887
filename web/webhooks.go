package web

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/hooks"
	"github.com/parleyhq/parley/store"
)

// registerWebhooks mounts /api/webhook-subscriptions and each one's
// deliveries. The secret is in the create response only.
func (s *Server) registerWebhooks(h *hooks.Service) {
	hide := func(sub parley.WebhookSubscription, err error) (parley.WebhookSubscription, error) {
		sub.Secret = ""
		return sub, err
	}
	registerCRUD(s, resource[parley.WebhookSubscription, hooks.Input, hooks.Input]{
		name: "webhook-subscription", path: "/api/webhook-subscriptions", tag: "Webhooks",
		create: func(ctx context.Context, t parley.Tenant, in hooks.Input) (parley.WebhookSubscription, error) {
			return h.Create(ctx, t.ID, in)
		},
		get: func(ctx context.Context, tenantID, id string) (parley.WebhookSubscription, error) {
			return hide(s.store.GetWebhookSubscription(ctx, tenantID, id))
		},
		list: func(ctx context.Context, tenantID string, p store.Page) ([]parley.WebhookSubscription, string, error) {
			items, next, err := s.store.ListWebhookSubscriptions(ctx, tenantID, p)
			for i := range items {
				items[i].Secret = ""
			}
			return items, next, err
		},
		update: func(ctx context.Context, t parley.Tenant, id string, in hooks.Input) (parley.WebhookSubscription, error) {
			return h.Update(ctx, t.ID, id, in)
		},
		delete: s.store.DeleteWebhookSubscription,
	})
	huma.Register(s.api, huma.Operation{OperationID: "list-webhook-deliveries", Method: http.MethodGet,
		Path: "/api/webhook-subscriptions/{id}/deliveries", Summary: "List a subscription's deliveries, newest first",
		Tags: []string{"Webhooks"}, Security: bearer},
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"64"`
			PageParams
		}) (*bodyOut[PageOf[parley.WebhookDelivery]], error) {
			tenant := TenantFrom(ctx)
			if _, err := s.store.GetWebhookSubscription(ctx, tenant.ID, in.ID); err != nil {
				return nil, apiError(err)
			}
			items, next, err := s.store.ListWebhookDeliveries(ctx, tenant.ID, in.ID, in.page())
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[PageOf[parley.WebhookDelivery]]{Body: PageOf[parley.WebhookDelivery]{Items: items, NextCursor: next}}, nil
		})
}

package web

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

type customerLinkInput struct {
	IDParam
	Body struct {
		InstagramID string `json:"instagram_id,omitempty" maxLength:"64" doc:"An Instagram-scoped id (IGSID) whose messages are this customer's"`
		CustomerID  string `json:"customer_id,omitempty" maxLength:"64" doc:"Another customer record of the same person (e.g. created from Instagram): merged into this one and removed"`
	}
}

// registerCustomerLink mounts POST /api/customers/{id}/link: one customer
// record for a person known on WhatsApp and Instagram.
func (s *Server) registerCustomerLink() {
	huma.Register(s.api, huma.Operation{OperationID: "link-customer", Method: http.MethodPost, Path: "/api/customers/{id}/link",
		Summary: "Link an Instagram contact, or merge another customer record, into this customer",
		Description: "With instagram_id, the Instagram contact's conversations become this customer's (a customer record created " +
			"for that contact alone is merged in). With customer_id, that record's addresses and conversations move here and it is removed. " +
			"An Instagram id already linked to another customer is 409.",
		Tags: []string{"Directory"}, Security: bearer},
		func(ctx context.Context, in *customerLinkInput) (*bodyOut[parley.Customer], error) {
			tenantID := TenantFrom(ctx).ID
			var c parley.Customer
			err := s.store.InTx(ctx, func(q *store.Queries) error {
				if _, err := q.GetCustomer(ctx, tenantID, in.ID); err != nil {
					return err
				}
				switch {
				case (in.Body.InstagramID == "") == (in.Body.CustomerID == ""):
					return parley.FieldError("instagram_id", "give exactly one of instagram_id and customer_id")
				case in.Body.InstagramID != "":
					id, ok := parley.InstagramID(in.Body.InstagramID)
					if !ok {
						id = in.Body.InstagramID
					}
					if !numeric(id) {
						return parley.FieldError("instagram_id", "%q is not an Instagram-scoped id (digits)", in.Body.InstagramID)
					}
					if err := q.LinkIdentity(ctx, tenantID, in.ID, parley.InstagramContact(id)); err != nil {
						return err
					}
				default:
					if err := q.MergeCustomer(ctx, tenantID, in.ID, in.Body.CustomerID); err != nil {
						return err
					}
				}
				var err error
				if c, err = q.GetCustomer(ctx, tenantID, in.ID); err != nil {
					return err
				}
				c.Identities, err = q.CustomerIdentities(ctx, tenantID, in.ID)
				return err
			})
			return &bodyOut[parley.Customer]{Body: c}, apiError(err)
		})
}

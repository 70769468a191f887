package web

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// PageOf is one page of a list; pass next_cursor as ?cursor= for the next.
type PageOf[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty" doc:"Cursor of the next page; absent on the last page"`
}

type pageInput struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
	Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page"`
}

func (p pageInput) page() store.Page { return store.Page{Limit: p.Limit, Cursor: p.Cursor} }

type idInput struct {
	ID string `path:"id" maxLength:"64"`
}

type bodyOut[T any] struct{ Body T }

// resource describes one tenant-scoped collection with create, read, list,
// update and delete. C and P are the create and patch bodies.
type resource[T, C, P any] struct {
	name   string // singular, for operation ids and docs: "channel"
	path   string // collection path: "/api/channels"
	tag    string
	create func(ctx context.Context, tenant parley.Tenant, in C) (T, error)
	get    func(ctx context.Context, tenantID, id string) (T, error)
	list   func(ctx context.Context, tenantID string, p store.Page) ([]T, string, error)
	update func(ctx context.Context, tenant parley.Tenant, id string, in P) (T, error)
	delete func(ctx context.Context, tenantID, id string) error
}

// registerCRUD mounts the five operations of a resource. Every one needs an
// API key and only ever sees the key's tenant.
func registerCRUD[T, C, P any](s *Server, r resource[T, C, P]) {
	huma.Register(s.api, huma.Operation{OperationID: "create-" + r.name, Method: http.MethodPost, Path: r.path, Summary: "Create a " + r.name,
		Tags: []string{r.tag}, Security: bearer, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct{ Body C }) (*bodyOut[T], error) {
			out, err := r.create(ctx, TenantFrom(ctx), in.Body)
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[T]{Body: out}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "list-" + r.name + "s", Method: http.MethodGet, Path: r.path, Summary: "List " + r.name + "s",
		Tags: []string{r.tag}, Security: bearer},
		func(ctx context.Context, in *pageInput) (*bodyOut[PageOf[T]], error) {
			items, next, err := r.list(ctx, TenantFrom(ctx).ID, in.page())
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[PageOf[T]]{Body: PageOf[T]{Items: items, NextCursor: next}}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "get-" + r.name, Method: http.MethodGet, Path: r.path + "/{id}", Summary: "Get a " + r.name,
		Tags: []string{r.tag}, Security: bearer},
		func(ctx context.Context, in *idInput) (*bodyOut[T], error) {
			out, err := r.get(ctx, TenantFrom(ctx).ID, in.ID)
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[T]{Body: out}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "update-" + r.name, Method: http.MethodPatch, Path: r.path + "/{id}", Summary: "Change a " + r.name,
		Tags: []string{r.tag}, Security: bearer},
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64"`
			Body P
		}) (*bodyOut[T], error) {
			out, err := r.update(ctx, TenantFrom(ctx), in.ID, in.Body)
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[T]{Body: out}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "delete-" + r.name, Method: http.MethodDelete, Path: r.path + "/{id}", Summary: "Delete a " + r.name,
		Tags: []string{r.tag}, Security: bearer, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *idInput) (*struct{}, error) {
			if err := r.delete(ctx, TenantFrom(ctx).ID, in.ID); err != nil {
				return nil, apiError(err)
			}
			return &struct{}{}, nil
		})
}

// set copies a patch field over the current value when it was sent.
func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

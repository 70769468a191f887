package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/notify"
	"github.com/parleyhq/parley/store"
)

type notificationListInput struct {
	PageParams
	Status string `query:"status" enum:"requested,answered," doc:"requested or answered"`
	Type   string `query:"type" maxLength:"200" doc:"The notification types, comma-separated (user_question_request, user_support_request); empty: all"`
}

type notificationRaiseInput struct {
	Body struct {
		Type           string            `json:"type" maxLength:"64" doc:"user_question_request or user_support_request"`
		ConversationID string            `json:"conversation_id" maxLength:"64" doc:"The customer's conversation"`
		Context        map[string]string `json:"context" doc:"The type's requested fields: question, or support_request_reason"`
		Answer         map[string]any    `json:"answer,omitempty" doc:"With it, the notification is created answered (no staff are asked) and the answer goes to the customer: 201 with the notification"`
	}
}

// notificationRaiseOutput is 202 with NotificationRaised, or 201 with the
// notification when it was created answered.
type notificationRaiseOutput struct {
	Status int
	Body   any
}

// NotificationRaised is the answer to POST /api/notifications.
type NotificationRaised struct {
	ID     string `json:"id" doc:"The notification's id; GET /api/notifications/{id} finds it once the request job has run"`
	Status string `json:"status" enum:"pending" doc:"pending: the request job routes and sends it"`
}

type notificationAnswerInput struct {
	IDParam
	// Any object: validated against the notification's answer_schema
	// after the notification is found (another tenant's id is a 404).
	Body map[string]any `doc:"The answered fields, e.g. {\"answer\": \"…\"}; see the notification's answer_schema"`
}

// Answerable is the answer to GET /api/notifications/{id}/answerable.
type Answerable struct {
	Answerable bool `json:"answerable" doc:"requested: true; answered: only if the type allows several answers"`
}

type documentNotificationsInput struct {
	IDParam
	PageParams
}

// registerNotifications mounts the merchant notifications, when wired.
func (s *Server) registerNotifications(n *notify.Service) {
	if n == nil {
		return
	}
	tags := []string{"Notifications"}
	huma.Register(s.api, huma.Operation{OperationID: "list-notifications", Method: http.MethodGet, Path: "/api/notifications", Summary: "List notifications, newest first",
		Tags: tags, Security: bearer},
		func(ctx context.Context, in *notificationListInput) (*bodyOut[PageOf[parley.Notification]], error) {
			f := store.NotificationFilter{Status: parley.NotificationStatus(in.Status)}
			for _, t := range strings.Split(in.Type, ",") {
				if t = strings.TrimSpace(t); t != "" {
					f.Types = append(f.Types, parley.NotificationType(t))
				}
			}
			items, next, err := n.List(ctx, TenantFrom(ctx).ID, f, in.page())
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[PageOf[parley.Notification]]{Body: PageOf[parley.Notification]{Items: items, NextCursor: next}}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "raise-notification", Method: http.MethodPost, Path: "/api/notifications",
		Summary: "Ask the staff a customer's question or support request (the request job routes and sends it)",
		Tags:    tags, Security: bearer, DefaultStatus: http.StatusAccepted},
		func(ctx context.Context, in *notificationRaiseInput) (*notificationRaiseOutput, error) {
			if in.Body.Answer != nil {
				out, err := n.CreateAnswered(ctx, TenantFrom(ctx).ID, in.Body.ConversationID, parley.NotificationType(in.Body.Type), in.Body.Context, in.Body.Answer, notify.ByAPI)
				if err != nil {
					return nil, apiError(err)
				}
				return &notificationRaiseOutput{Status: http.StatusCreated, Body: out}, nil
			}
			id, err := n.Raise(ctx, TenantFrom(ctx).ID, in.Body.ConversationID, parley.NotificationType(in.Body.Type), in.Body.Context, "")
			if err != nil {
				return nil, apiError(err)
			}
			return &notificationRaiseOutput{Status: http.StatusAccepted, Body: NotificationRaised{ID: id, Status: "pending"}}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "get-notification", Method: http.MethodGet, Path: "/api/notifications/{id}", Summary: "Get a notification",
		Tags: tags, Security: bearer},
		func(ctx context.Context, in *idInput) (*bodyOut[parley.Notification], error) {
			out, err := n.Get(ctx, TenantFrom(ctx).ID, in.ID)
			return &bodyOut[parley.Notification]{Body: out}, apiError(err)
		})
	huma.Register(s.api, huma.Operation{OperationID: "notification-answerable", Method: http.MethodGet, Path: "/api/notifications/{id}/answerable",
		Summary: "Whether the notification takes an answer now", Tags: tags, Security: bearer},
		func(ctx context.Context, in *idInput) (*bodyOut[Answerable], error) {
			out, err := n.Get(ctx, TenantFrom(ctx).ID, in.ID)
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[Answerable]{Body: Answerable{Answerable: notify.Answerable(out)}}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "answer-notification", Method: http.MethodPost, Path: "/api/notifications/{id}/answer",
		Summary: "Answer a notification; the answer goes to the customer. 409 already_answered when a single-answer notification has its answer",
		Tags:    tags, Security: bearer},
		func(ctx context.Context, in *notificationAnswerInput) (*bodyOut[parley.Notification], error) {
			out, err := n.Answer(ctx, TenantFrom(ctx).ID, in.ID, in.Body, notify.ByAPI)
			return &bodyOut[parley.Notification]{Body: out}, apiError(err)
		})
	huma.Register(s.api, huma.Operation{OperationID: "document-notifications", Method: http.MethodGet, Path: "/api/documents/{id}/notifications",
		Summary: "The notifications of a knowledge document (the questions that created it)", Tags: tags, Security: bearer},
		func(ctx context.Context, in *documentNotificationsInput) (*bodyOut[PageOf[parley.Notification]], error) {
			items, next, err := n.ForDocument(ctx, TenantFrom(ctx).ID, in.ID, in.page())
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[PageOf[parley.Notification]]{Body: PageOf[parley.Notification]{Items: items, NextCursor: next}}, nil
		})
}

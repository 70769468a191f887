package web

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// ConversationDetail is a conversation with its latest messages.
type ConversationDetail struct {
	parley.Conversation
	Messages []parley.Message `json:"messages" doc:"The latest 100 messages, oldest first"`
}

type conversationListInput struct {
	PageParams
	Status     string `query:"status" enum:"open,closed," doc:"open or closed"`
	ChannelID  string `query:"channel_id" maxLength:"64"`
	CustomerID string `query:"customer_id" maxLength:"64"`
	Kind       string `query:"kind" enum:"customer,staff," doc:"customer or staff"`
	// A string, not a bool: absent means either.
	HasOpenTicket string `query:"has_open_ticket" enum:"true,false," doc:"true: only conversations humans hold; false: only those the AI agent answers"`
}

func (s *Server) registerConversations() {
	huma.Register(s.api, huma.Operation{OperationID: "list-conversations", Method: http.MethodGet, Path: "/api/conversations", Summary: "List conversations, newest first",
		Tags: []string{"Conversations"}, Security: bearer},
		func(ctx context.Context, in *conversationListInput) (*bodyOut[PageOf[parley.Conversation]], error) {
			f := store.ConversationFilter{Status: parley.ConversationStatus(in.Status), ChannelID: in.ChannelID, CustomerID: in.CustomerID, Kind: parley.ConversationKind(in.Kind)}
			if in.HasOpenTicket != "" {
				f.Where = append(f.Where, store.HasOpenTicket(in.HasOpenTicket == "true"))
			}
			items, next, err := s.store.ListConversations(ctx, TenantFrom(ctx).ID, f, in.page())
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[PageOf[parley.Conversation]]{Body: PageOf[parley.Conversation]{Items: items, NextCursor: next}}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "get-conversation", Method: http.MethodGet, Path: "/api/conversations/{id}", Summary: "A conversation with its latest messages",
		Tags: []string{"Conversations"}, Security: bearer},
		func(ctx context.Context, in *idInput) (*bodyOut[ConversationDetail], error) {
			t := TenantFrom(ctx)
			c, err := s.store.GetConversation(ctx, t.ID, in.ID)
			if err != nil {
				return nil, apiError(err)
			}
			msgs, err := s.store.RecentMessages(ctx, t.ID, c.ID, 100)
			if err != nil {
				return nil, apiError(err)
			}
			if msgs == nil {
				msgs = []parley.Message{}
			}
			return &bodyOut[ConversationDetail]{Body: ConversationDetail{Conversation: c, Messages: msgs}}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "list-messages", Method: http.MethodGet, Path: "/api/conversations/{id}/messages", Summary: "A conversation's messages, oldest first",
		Tags: []string{"Conversations"}, Security: bearer},
		func(ctx context.Context, in *struct {
			IDParam
			PageParams
		}) (*bodyOut[PageOf[parley.Message]], error) {
			t := TenantFrom(ctx)
			if _, err := s.store.GetConversation(ctx, t.ID, in.ID); err != nil {
				return nil, apiError(err)
			}
			items, next, err := s.store.ListMessages(ctx, t.ID, in.ID, in.page())
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[PageOf[parley.Message]]{Body: PageOf[parley.Message]{Items: items, NextCursor: next}}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "list-conversation-events", Method: http.MethodGet, Path: "/api/conversations/{id}/events", Summary: "A conversation's event log, oldest first",
		Tags: []string{"Conversations"}, Security: bearer},
		func(ctx context.Context, in *struct {
			IDParam
			PageParams
		}) (*bodyOut[PageOf[parley.Event]], error) {
			t := TenantFrom(ctx)
			if _, err := s.store.GetConversation(ctx, t.ID, in.ID); err != nil {
				return nil, apiError(err)
			}
			items, next, err := s.store.ListEvents(ctx, t.ID, in.ID, in.page())
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[PageOf[parley.Event]]{Body: PageOf[parley.Event]{Items: items, NextCursor: next}}, nil
		})
}

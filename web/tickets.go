package web

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/conversation"
	"github.com/parleyhq/parley/store"
)

type ticketListInput struct {
	PageParams
	View    string `query:"view" enum:"open,waiting,mine,all" default:"open" doc:"open: waiting or assigned; waiting: open and no agent yet (the queue); mine: open and assigned to agent_id; all: every ticket"`
	AgentID string `query:"agent_id" maxLength:"64" doc:"The agent whose tickets the mine view lists"`
}

type ticketReplyInput struct {
	IDParam
	Body struct {
		// Required, but checked after the ticket is found, so that another
		// tenant's ticket id is a 404 whatever the body says.
		Text    string `json:"text,omitempty" maxLength:"4096" doc:"The message to send to the contact (required)"`
		AgentID string `json:"agent_id,omitempty" maxLength:"64" doc:"Who answers; default the assigned agent"`
	}
}

type ticketAssignInput struct {
	IDParam
	Body struct {
		AgentID string `json:"agent_id,omitempty" maxLength:"64" doc:"The agent to give the ticket to (required)"`
	}
}

type ticketConversationInput struct {
	IDParam
	AgentID string `query:"agent_id" maxLength:"64" doc:"Who asks, for the event log"`
}

// registerTickets mounts the human side: tickets and the conversation
// commands that go with them. Without the conversation service (tests of
// other routes) there is nothing to mount.
func (s *Server) registerTickets() {
	c := s.conversations
	if c == nil {
		return
	}
	tags := []string{"Tickets"}
	huma.Register(s.api, huma.Operation{OperationID: "list-tickets", Method: http.MethodGet, Path: "/api/tickets", Summary: "List tickets, oldest first (the queue's order)",
		Tags: tags, Security: bearer},
		func(ctx context.Context, in *ticketListInput) (*bodyOut[PageOf[parley.Ticket]], error) {
			items, next, err := c.ListTickets(ctx, TenantFrom(ctx).ID, in.View, in.AgentID, in.page())
			if err != nil {
				return nil, apiError(err)
			}
			return &bodyOut[PageOf[parley.Ticket]]{Body: PageOf[parley.Ticket]{Items: items, NextCursor: next}}, nil
		})
	huma.Register(s.api, huma.Operation{OperationID: "get-ticket", Method: http.MethodGet, Path: "/api/tickets/{id}", Summary: "Get a ticket",
		Tags: tags, Security: bearer},
		func(ctx context.Context, in *idInput) (*bodyOut[parley.Ticket], error) {
			t, err := s.store.GetTicket(ctx, TenantFrom(ctx).ID, in.ID)
			return &bodyOut[parley.Ticket]{Body: t}, apiError(err)
		})
	huma.Register(s.api, huma.Operation{OperationID: "reply-ticket", Method: http.MethodPost, Path: "/api/tickets/{id}/reply",
		Summary: "Answer the contact as a human agent (Agent Answer Generated); sent on the conversation's active channel",
		Tags:    tags, Security: bearer, DefaultStatus: http.StatusAccepted},
		func(ctx context.Context, in *ticketReplyInput) (*bodyOut[parley.Message], error) {
			m, err := c.Reply(ctx, TenantFrom(ctx).ID, in.ID, in.Body.AgentID, in.Body.Text)
			return &bodyOut[parley.Message]{Body: m}, apiError(err)
		})
	huma.Register(s.api, huma.Operation{OperationID: "assign-ticket", Method: http.MethodPost, Path: "/api/tickets/{id}/assign", Summary: "Give an open ticket to an agent (Agent Assigned)",
		Tags: tags, Security: bearer},
		func(ctx context.Context, in *ticketAssignInput) (*bodyOut[parley.Ticket], error) {
			t, err := c.Assign(ctx, TenantFrom(ctx).ID, in.ID, in.Body.AgentID)
			return &bodyOut[parley.Ticket]{Body: t}, apiError(err)
		})
	huma.Register(s.api, huma.Operation{OperationID: "close-ticket", Method: http.MethodPost, Path: "/api/tickets/{id}/close", Summary: "Close a ticket; the AI agent answers the conversation again",
		Tags: tags, Security: bearer},
		func(ctx context.Context, in *idInput) (*bodyOut[parley.Ticket], error) {
			t, err := c.CloseTicket(ctx, TenantFrom(ctx).ID, in.ID)
			return &bodyOut[parley.Ticket]{Body: t}, apiError(err)
		})
	huma.Register(s.api, huma.Operation{OperationID: "get-ticket-conversation", Method: http.MethodGet, Path: "/api/tickets/{id}/conversation",
		Summary: "Get Conversation: the ticket's conversation document (both logged)", Tags: tags, Security: bearer},
		func(ctx context.Context, in *ticketConversationInput) (*bodyOut[conversation.TicketDocument], error) {
			d, err := c.ConversationDocument(ctx, TenantFrom(ctx).ID, in.ID, in.AgentID)
			return &bodyOut[conversation.TicketDocument]{Body: d}, apiError(err)
		})
	huma.Register(s.api, huma.Operation{OperationID: "close-conversation", Method: http.MethodPost, Path: "/api/conversations/{id}/close",
		Summary: "Close a conversation (and its open ticket); the contact's next message starts a new one", Tags: []string{"Conversations"}, Security: bearer},
		func(ctx context.Context, in *idInput) (*bodyOut[parley.Conversation], error) {
			conv, err := c.CloseConversation(ctx, TenantFrom(ctx).ID, in.ID)
			return &bodyOut[parley.Conversation]{Body: conv}, apiError(err)
		})
	huma.Register(s.api, huma.Operation{OperationID: "reopen-conversation", Method: http.MethodPost, Path: "/api/conversations/{id}/reopen",
		Summary: "Open a closed conversation again (409 if the contact has another open one)", Tags: []string{"Conversations"}, Security: bearer},
		func(ctx context.Context, in *idInput) (*bodyOut[parley.Conversation], error) {
			conv, err := c.ReopenConversation(ctx, TenantFrom(ctx).ID, in.ID)
			return &bodyOut[parley.Conversation]{Body: conv}, apiError(err)
		})
}

// saveAgent creates or updates an agent and, in the same transaction, lets
// the conversation flow react (an available agent takes waiting tickets).
func (s *Server) saveAgent(ctx context.Context, a parley.HumanAgent, create bool) (parley.HumanAgent, error) {
	err := s.store.InTx(ctx, func(q *store.Queries) error {
		var err error
		if create {
			a, err = q.CreateAgent(ctx, a)
		} else {
			err = q.UpdateAgent(ctx, a)
		}
		if err != nil || s.conversations == nil {
			return err
		}
		return s.conversations.AgentSaved(ctx, q, a)
	})
	return a, err
}

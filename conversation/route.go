package conversation

import (
	"context"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/store"
)

// route sends a stored inbound message onwards, in the transaction that
// stored it: to the human side when the conversation has an open ticket
// (Generate Agent Answer, logged for the ticket's agent), otherwise to the
// AI agent (Generate AI Agent Answer: the answer stage's queue, written in
// the same commit).
// Staff conversations go to the AI agent too; it offers them the staff
// tools. Reactions are kept but not answered: nobody replies to a thumbs-up.
func (s *Service) route(ctx context.Context, q *store.Queries, conv parley.Conversation, msg parley.Message) error {
	if msg.Type == parley.MessageReaction {
		return nil
	}
	t, err := q.OpenTicketFor(ctx, conv.TenantID, conv.ID)
	switch {
	case err == nil:
		if err := q.AppendEvent(ctx, conv.TenantID, conv.ID, event.GenerateAgentAnswer, event.GenerateAgentAnswerPayload{
			TicketID: t.ID, AgentID: t.AgentID, MessageID: msg.ID,
		}); err != nil {
			return err
		}
		s.log().InfoContext(ctx, "message routed to the human side", "tenant_id", conv.TenantID, "conversation_id", conv.ID, "ticket_id", t.ID, "agent_id", t.AgentID)
		return q.TouchTicket(ctx, conv.TenantID, t.ID)
	case parley.ErrorCode(err) != parley.CodeNotFound:
		return err
	}
	args := event.GenerateAIAgentAnswerArgs{TenantID: conv.TenantID, ConversationID: conv.ID, MessageID: msg.ID}
	if err := q.AppendEvent(ctx, conv.TenantID, conv.ID, event.GenerateAIAgentAnswer, args); err != nil {
		return err
	}
	return s.queueAnswer(ctx, q, conv.TenantID, conv.ID, msg.ID)
}

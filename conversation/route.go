package conversation

import (
	"context"
	"fmt"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/store"
)

// route sends a stored inbound message onwards, in the transaction that
// stored it: to the human side when the conversation has an open ticket
// (Generate Agent Answer, logged for the ticket's agent), otherwise to the
// AI agent (Generate AI Agent Answer, a job inserted in the same commit).
// Staff conversations go to the AI agent too; it offers them the staff
// tools. Reactions are kept but not answered: nobody replies to a thumbs-up.
func (s *Service) route(ctx context.Context, q *store.Queries, conv parley.Conversation, msg parley.Message) error {
	if msg.Type == parley.MessageReaction {
		return nil
	}
	t, err := q.OpenTicketFor(ctx, conv.TenantID, conv.ID)
	switch {
	case err == nil:
		if _, err := q.AppendEvent(ctx, conv.TenantID, conv.ID, event.GenerateAgentAnswer, event.GenerateAgentAnswerPayload{
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
	if _, err := q.AppendEvent(ctx, conv.TenantID, conv.ID, event.GenerateAIAgentAnswer, args); err != nil {
		return err
	}
	if !s.AnswerAfterCommit {
		if err := s.Jobs.InsertTx(ctx, q.Tx(), args, nil); err != nil {
			return fmt.Errorf("enqueue %s: %w", event.GenerateAIAgentAnswer, err)
		}
		return nil
	}
	// Answer right after this commit, in this goroutine; the job waits as
	// the backstop until the answer (with every retry of the model) could
	// have been given.
	at := s.Store.Clock().Now().Add(s.answerBudget() + backstopSlack)
	id, err := s.Jobs.InsertBackstopTx(ctx, q.Tx(), args, nil, at)
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", event.GenerateAIAgentAnswer, err)
	}
	if id != 0 {
		known := known{conv: conv, msg: msg}
		q.AfterCommit(ctx, func(ctx context.Context) { s.answerNow(ctx, args, id, known) })
	}
	return nil
}

// backstopSlack is how much longer than the answer budget a Generate AI
// Agent Answer backstop waits: time for the commit.
const backstopSlack = 30 * time.Second

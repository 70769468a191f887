package conversation

import (
	"context"
	"fmt"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/flow"
	"github.com/parleyhq/parley/store"
)

// AddContext puts a note into conv that the contact does not see (a system
// message, e.g. a staff member's answer to the customer's question) and
// asks the AI agent to write the contact a reply with it in view: the
// Generate AI Agent Answer job for the note, in q's transaction. If the
// contact writes again before the job runs, the note stays in the history
// and the answer to their newer message covers it instead.
func (s *Service) AddContext(ctx context.Context, q *store.Queries, conv parley.Conversation, text string, extra map[string]any) (parley.Message, error) {
	msg, err := q.InsertMessage(ctx, parley.Message{TenantID: conv.TenantID, ConversationID: conv.ID, Role: parley.RoleSystem,
		Type: parley.MessageText, Content: text, Status: parley.StatusReceived, Extra: extra})
	if err != nil {
		return msg, err
	}
	args := flow.GenerateAIAgentAnswerArgs{TenantID: conv.TenantID, ConversationID: conv.ID, MessageID: msg.ID}
	if _, err := q.AppendEvent(ctx, conv.TenantID, conv.ID, flow.GenerateAIAgentAnswer, args); err != nil {
		return msg, err
	}
	if err := s.Jobs.InsertTx(ctx, q.Tx(), args, nil); err != nil {
		return msg, fmt.Errorf("enqueue %s: %w", flow.GenerateAIAgentAnswer, err)
	}
	return msg, nil
}

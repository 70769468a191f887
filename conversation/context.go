package conversation

import (
	"context"
	"fmt"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/store"
)

// AddContext puts a note into conv that the contact does not see (a system
// message, e.g. a staff member's answer to the customer's question) and
// asks the AI agent to write the contact a reply with it in view: the
// Generate AI Agent Answer for the note (the answer stage's queue), in q's
// transaction. If the contact writes again before it is answered, the note
// stays in the history and the answer to their newer message covers it.
func (s *Service) AddContext(ctx context.Context, q *store.Queries, conv parley.Conversation, text string, extra map[string]any) (parley.Message, error) {
	msg, err := q.InsertMessage(ctx, parley.Message{TenantID: conv.TenantID, ConversationID: conv.ID, Role: parley.RoleSystem,
		Type: parley.MessageText, Content: text, Status: parley.StatusReceived, Extra: extra})
	if err != nil {
		return msg, err
	}
	args := event.GenerateAIAgentAnswerArgs{TenantID: conv.TenantID, ConversationID: conv.ID, MessageID: msg.ID}
	if err := q.AppendEvent(ctx, conv.TenantID, conv.ID, event.GenerateAIAgentAnswer, args); err != nil {
		return msg, err
	}
	return msg, s.queueAnswer(ctx, q, conv.TenantID, conv.ID, msg.ID)
}

// Compose has the AI agent write, now, the message that passes a note (a
// staff answer) on to the contact, with the conversation's history and
// the note in view. It runs no tool and opens no ticket: the caller queues
// the text in its own transaction, so what it records is what was sent.
func (s *Service) Compose(ctx context.Context, conv parley.Conversation, note string) (string, error) {
	if s.LLM == nil {
		return "", fmt.Errorf("compose: no LLM configured")
	}
	t, err := s.gather(ctx, s.Store.Read(), conv, parley.Message{TenantID: conv.TenantID, ConversationID: conv.ID, Role: parley.RoleSystem, Content: note}, nil)
	if err != nil {
		return "", err
	}
	schema, err := s.answerSchema()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, s.answerBudget())
	defer cancel()
	req := t.request(nil)
	req.Schema = schema
	out, _, err := llm.CompleteJSON[agentOutput](parley.WithTenant(ctx, conv.TenantID), s.LLM, req)
	if err != nil {
		return "", fmt.Errorf("compose: %w", err)
	}
	if strings.TrimSpace(out.Answer) == "" {
		return "", fmt.Errorf("compose: the model gave an empty answer")
	}
	return strings.TrimSpace(out.Answer), nil
}

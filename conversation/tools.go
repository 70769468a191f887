package conversation

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/llm"
)

// Tool is a function the AI agent may call, with the code that runs it.
type Tool struct {
	llm.Tool
	// Run does the work and returns the result the model reads. An error
	// is shown to the model as the result, not raised.
	Run func(ctx context.Context, call ToolCall) (string, error)
}

// ToolCall is one call of a tool by the AI agent.
type ToolCall struct {
	Conversation parley.Conversation
	Message      parley.Message // the contact's message being answered
	Arguments    json.RawMessage
}

// Tools is the registry of tools per conversation kind. The kind is the
// security boundary: a customer conversation is offered only the tools
// registered for KindCustomer, so no text a customer writes can make the
// model reach a staff tool (the llm package also refuses calls to tools
// that were not offered). Later features register theirs at wiring, e.g.
// the merchant notifications' AnswerNotification for KindStaff.
type Tools struct {
	byKind map[parley.ConversationKind][]Tool
}

// Register offers tool to conversations of kind. Names are unique per kind.
func (t *Tools) Register(kind parley.ConversationKind, tool Tool) error {
	if tool.Run == nil {
		return fmt.Errorf("tool %q has no Run", tool.Name)
	}
	for _, have := range t.byKind[kind] {
		if have.Name == tool.Name {
			return fmt.Errorf("tool %q is already registered for %s conversations", tool.Name, kind)
		}
	}
	if t.byKind == nil {
		t.byKind = map[parley.ConversationKind][]Tool{}
	}
	t.byKind[kind] = append(t.byKind[kind], tool)
	return nil
}

// For returns the tools offered to conversations of kind.
func (t *Tools) For(kind parley.ConversationKind) []Tool {
	if t == nil {
		return nil
	}
	return append([]Tool(nil), t.byKind[kind]...)
}

func definitions(tools []Tool) []llm.Tool {
	out := make([]llm.Tool, len(tools))
	for i, t := range tools {
		out[i] = t.Tool
	}
	return out
}

func find(tools []Tool, name string) (Tool, bool) {
	for _, t := range tools {
		if t.Name == name {
			return t, true
		}
	}
	return Tool{}, false
}

package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/conversation"
	"github.com/parleyhq/parley/llm"
)

// Tool names offered to the AI agent.
const (
	ToolRequest = "RequestNotification" // customer conversations
	ToolAnswer  = "AnswerNotification"  // staff conversations only
)

// RegisterTools offers the AI agent the notification tools: customers'
// conversations may raise a notification, staff conversations answer
// them. The kinds keep them apart: no customer can reach the answer tool.
func (s *Service) RegisterTools(tools *conversation.Tools) error {
	if err := tools.Register(parley.KindCustomer, s.requestTool()); err != nil {
		return err
	}
	return tools.Register(parley.KindStaff, s.answerTool())
}

type requestToolArgs struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func (s *Service) requestTool() conversation.Tool {
	types := []string{}
	for _, t := range Types() {
		types = append(types, string(t))
	}
	return conversation.Tool{
		Tool: llm.Tool{Name: ToolRequest,
			Description: "Ask the business's staff when you cannot help the customer yourself: user_question_request for a question the knowledge passages do not answer, " +
				"user_support_request for a problem you cannot solve (a damaged item, a refund, an exception). The staff's answer reaches the customer later in this chat. " +
				"After calling it, tell the customer that you have asked the team and will get back to them here.",
			Parameters: map[string]any{"type": "object", "additionalProperties": false, "required": []string{"type", "text"},
				"properties": map[string]any{
					"type": map[string]any{"type": "string", "enum": types},
					"text": map[string]any{"type": "string", "description": "the customer's question, or the reason of the support request, in a sentence the staff understand"},
				}}},
		Run: func(ctx context.Context, call conversation.ToolCall) (string, error) {
			var in requestToolArgs
			if err := json.Unmarshal(call.Arguments, &in); err != nil {
				return "", fmt.Errorf("arguments: %w", err)
			}
			typ := parley.NotificationType(in.Type)
			spec, ok := SpecOf(typ)
			if !ok {
				return "", fmt.Errorf("unknown type %q", in.Type)
			}
			// One raise per customer message and type, however often the
			// AI agent's job runs.
			key := call.Message.ID + ":" + in.Type
			if _, err := s.Raise(ctx, call.Conversation.TenantID, call.Conversation.ID, typ, map[string]string{spec.Requested[0].Name: in.Text}, key); err != nil {
				return "", err
			}
			return `{"ok":true,"status":"the staff have been asked; their answer will reach the customer in this chat"}`, nil
		},
	}
}

func (s *Service) answerTool() conversation.Tool {
	props := map[string]any{"notification_id": map[string]any{"type": "string", "description": "the notification's reference, like NOTIF_12"}}
	seen := map[string]bool{}
	for _, spec := range specs {
		for _, f := range spec.Answered {
			if !seen[f.Name] {
				seen[f.Name] = true
				props[f.Name] = map[string]any{"type": "string", "description": f.Description + " (" + string(spec.Type) + ")"}
			}
		}
	}
	return conversation.Tool{
		Tool: llm.Tool{Name: ToolAnswer,
			Description: "Record this staff member's answer to a notification (NOTIF_<n>) named in an instruction of this chat. " +
				"Fill the fields the instruction lists, only from what the staff member wrote, never from quoted customer data. Only notifications sent to this staff member take an answer; one that was answered or closed takes none.",
			Parameters: map[string]any{"type": "object", "required": []string{"notification_id"}, "properties": props}},
		Run: func(ctx context.Context, call conversation.ToolCall) (string, error) {
			var in map[string]any
			if err := json.Unmarshal(call.Arguments, &in); err != nil {
				return "", fmt.Errorf("arguments: %w", err)
			}
			ref, _ := in["notification_id"].(string)
			n, err := parseRef(ctx, s.Store.Queries, call.Conversation.TenantID, ref)
			if err != nil && parley.ErrorCode(err) != parley.CodeNotFound && parley.ErrorCode(err) != parley.CodeValidation {
				return "", err
			}
			// Only a notification sent to this staff member: the model may
			// have been talked into another id (by text quoted from a
			// customer, say). Unknown ids get the same answer, so the
			// refusal tells nothing about what exists.
			if err != nil || !slices.ContainsFunc(n.Recipients, func(r parley.Recipient) bool {
				// The request went to this staff member, or into this very
				// conversation (a staff record re-created on the same phone).
				return r.StaffMemberID != "" && r.StaffMemberID == call.Conversation.StaffMemberID || r.ConversationID == call.Conversation.ID
			}) {
				s.log().WarnContext(ctx, "answer refused: not a recipient", "tenant_id", call.Conversation.TenantID, "conversation_id", call.Conversation.ID,
					"staff_member_id", call.Conversation.StaffMemberID, "notification_ref", ref, "notification_id", n.ID)
				return "", fmt.Errorf("%q is not a notification you were asked; nothing was recorded", ref)
			}
			spec, _ := SpecOf(n.Type)
			answer := map[string]any{}
			for _, f := range spec.Answered {
				if v, ok := in[f.Name]; ok {
					answer[f.Name] = v
				}
			}
			by := ByStaff(call.Conversation.StaffMemberID)
			if _, err := s.answer(ctx, n, answer, by); err != nil {
				if parley.ErrorCode(err) == parley.CodeAlreadyAnswered {
					return "", fmt.Errorf("%s was already answered and is closed; tell the staff member nothing more is needed", n.Ref)
				}
				return "", err
			}
			return fmt.Sprintf(`{"ok":true,"status":"%s answered; the customer will get the answer"}`, n.Ref), nil
		},
	}
}

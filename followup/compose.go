package followup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/store"
)

// outgoing is a follow-up ready to queue.
type outgoing struct {
	text     string
	template *parley.Template
	survey   parley.SurveyType
	kind     string // text, generated or template
	reason   string // why it went this way, for the event log
}

// historySize is how many recent messages the AI reads to write a follow-up.
const historySize = 30

// fallbackText is sent by a generate rule with no guidance text when no
// model is configured.
const fallbackText = "Hi! Just checking in: is there anything else I can help you with?"

// compose builds the rule's message for now, or returns the reason it must
// be skipped. Only an unavailable model is an error (the job retries).
func (s *Service) compose(ctx context.Context, sit situation, r parley.FollowUpRule, now time.Time) (outgoing, string, error) {
	if !parley.WindowOpen(sit.conv.LastCustomerMessageAt, now) {
		if !sit.channel.Type.Window().Templates {
			// Instagram: no templates, nothing may go past 24 hours.
			s.log().InfoContext(ctx, "follow-up outside the channel's messaging window, which has no templates; skipped", "tenant_id", sit.conv.TenantID,
				"conversation_id", sit.conv.ID, "rule_id", r.ID, "channel_type", sit.channel.Type)
			return outgoing{}, ReasonOutsideWindow, nil
		}
		if r.Template != nil {
			return outgoing{template: r.Template, kind: "template", reason: "outside_24h_window_template"}, "", nil
		}
		// A rule without its own template sends the tenant's follow-up
		// template, when it has an enabled one.
		name := ""
		if sit.conv.CustomerID != "" {
			if c, err := s.Store.Read().GetCustomer(ctx, sit.conv.TenantID, sit.conv.CustomerID); err == nil {
				name = c.Name
			}
		}
		lang := sit.conv.Language
		if lang == "" {
			lang = sit.tenant.DefaultLanguage
		}
		t, err := campaign.Resolve(ctx, s.Store.Read(), sit.conv.TenantID, sit.conv.ChannelID, campaign.FollowUp,
			map[string]string{"customer_name": name, "message": r.Message}, lang)
		if skip, ok := errors.AsType[*campaign.Skip](err); ok {
			s.log().WarnContext(ctx, "follow-up outside the 24-hour window and no template for it; skipped", "tenant_id", sit.conv.TenantID,
				"conversation_id", sit.conv.ID, "rule_id", r.ID, "reason", skip.Message)
			return outgoing{}, ReasonOutsideWindow, nil
		} else if err != nil {
			return outgoing{}, "", err
		}
		return outgoing{template: t, kind: "template", reason: "outside_24h_window_tenant_template"}, "", nil
	}
	out := outgoing{text: r.Message, survey: r.Survey, kind: "text"}
	if r.SendAsWritten {
		out.reason = "send_as_written"
		return out, "", nil
	}
	// Seed 000: the AI writes the follow-up, by default, whenever a model
	// is configured.
	if s.LLM == nil {
		if out.text == "" {
			out.text = fallbackText
		}
		out.reason = "no_llm_rule_text"
		return out, "", nil
	}
	text, err := s.generate(ctx, sit.conv, r)
	switch {
	case err == nil:
		out.text, out.kind = text, "generated"
	case errors.Is(err, llm.ErrBudgetReached):
		s.log().WarnContext(ctx, "LLM token budget reached; sending the rule's text", "tenant_id", sit.conv.TenantID,
			"conversation_id", sit.conv.ID, "rule_id", r.ID, "err", err)
		if out.text == "" {
			out.text = fallbackText
		}
		out.reason = ReasonBudgetReached
	case errors.Is(err, llm.ErrPermanent), errors.Is(err, llm.ErrInvalidOutput):
		// Retrying cannot help; the rule's own words still re-engage.
		s.log().WarnContext(ctx, "follow-up generation failed; sending the rule's text", "tenant_id", sit.conv.TenantID,
			"conversation_id", sit.conv.ID, "rule_id", r.ID, "err", err)
		if out.text == "" {
			out.text = fallbackText
		}
		out.reason = ReasonGenerationFailed
	default:
		return out, "", fmt.Errorf("generate follow-up: %w", err)
	}
	return out, "", nil
}

// generate asks the model for the follow-up: the rule's message rewritten
// for this customer and where their conversation left off.
func (s *Service) generate(ctx context.Context, conv parley.Conversation, r parley.FollowUpRule) (string, error) {
	r0 := s.Store.Read()
	history, err := r0.RecentMessages(ctx, conv.TenantID, conv.ID, historySize)
	if err != nil {
		return "", err
	}
	name, err := customerName(ctx, r0, conv)
	if err != nil {
		return "", err
	}
	var msgs []llm.Message
	for _, m := range history {
		text := m.Content
		if text == "" && m.Template != nil {
			text = "[template " + m.Template.Name + "]"
		}
		switch m.Role {
		case parley.RoleCustomer:
			msgs = append(msgs, llm.Message{Role: llm.RoleUser, Content: text})
		case parley.RoleAI, parley.RoleAgent:
			msgs = append(msgs, llm.Message{Role: llm.RoleAssistant, Content: text})
		}
	}
	lang := conv.Language
	if lang == "" {
		lang = "the customer's language"
	}
	system := "You are the business's assistant on WhatsApp. The customer has not answered the last message for a while. " +
		"Write ONE short, friendly follow-up message that picks up where the conversation left off, in " + lang + ". " +
		"Plain text, no placeholders, no greeting formulas longer than a few words."
	if name != "" {
		system += "\nThe customer's name: " + name + "."
	}
	if r.Message != "" {
		system += "\nThe business's follow-up message, to write in your own words for this customer and conversation: " + r.Message
	}
	if r.Survey != parley.SurveyNone {
		system += "\nThe customer answers it through a survey (" + string(r.Survey) + ") attached below your text: keep its question, do not list answers."
	}
	msgs = append(msgs, llm.Message{Role: llm.RoleUser, Content: "(No reply from the customer yet. Write the follow-up message now.)"})
	resp, err := s.LLM.Complete(parley.WithTenant(ctx, conv.TenantID), llm.Request{System: system, Messages: msgs})
	if err != nil {
		return "", err
	}
	text := strings.TrimSpace(resp.Content)
	if text == "" {
		return "", &llm.Error{Kind: llm.ErrInvalidOutput, Err: errors.New("empty follow-up")}
	}
	return text, nil
}

// customerName is the conversation's customer's name ("" for a contact who
// is not a customer).
func customerName(ctx context.Context, q *store.Queries, conv parley.Conversation) (string, error) {
	var c parley.Customer
	var err error
	if conv.CustomerID != "" {
		c, err = q.GetCustomer(ctx, conv.TenantID, conv.CustomerID)
	} else {
		c, err = q.CustomerByPhone(ctx, conv.TenantID, conv.ContactPhone)
	}
	if parley.ErrorCode(err) == parley.CodeNotFound {
		return "", nil
	}
	return c.Name, err
}

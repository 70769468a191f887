package followup

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// The work is the Follow-Up Request job ({"id": conversation id}). It is
// scheduled in the transaction that queues an agent message (OnAgentMessage,
// the channel.Outbox hook), swept up by a periodic scan over the due-time
// index as a safety net, and can be requested through the API. A customer
// message stops every pending follow-up (OnCustomerMessage, the
// conversation's hook): the job, when it runs, finds the customer wrote
// last and ends.

// OnAgentMessage is the channel.Outbox hook: in the transaction that queues an
// AI or human agent message, it moves the conversation's due time to when
// its next rule falls due and schedules the Follow-Up Request for then.
func (s *Service) OnAgentMessage(ctx context.Context, q *store.Queries, conv parley.Conversation, _ parley.Message) error {
	if conv.Kind == parley.KindStaff || conv.LastAgentMessageAt == nil {
		return nil // staff are asked questions, never followed up
	}
	_, err := s.reschedule(ctx, q, conv, *conv.LastAgentMessageAt, true)
	return err
}

// reschedule recomputes when the conversation's next undecided rule falls
// due, counting from from (clockStart), records it in the due-time index
// (or clears it) and, with schedule, inserts the Follow-Up Request for
// that moment.
func (s *Service) reschedule(ctx context.Context, q *store.Queries, conv parley.Conversation, from time.Time, schedule bool) (*time.Time, error) {
	if conv.LastAgentMessageAt == nil || customerWroteLast(conv) {
		return nil, q.ClearFollowUpDue(ctx, conv.ID)
	}
	rules, err := q.ActiveFollowUpRules(ctx, conv.TenantID)
	if err != nil {
		return nil, err
	}
	if len(rules) == 0 && schedule {
		// No rule to schedule: the customer's message cleared the due
		// time already, and a due time left from before a rule was
		// switched off is decided as nothing by its Follow-Up Request.
		return nil, nil
	}
	decided := map[string]bool{}
	if len(rules) > 0 {
		var sent bool
		if decided, sent, err = q.SessionFollowUps(ctx, conv.ID, conv.SessionStartedAt); err != nil {
			return nil, err
		}
		if sent {
			// The session has had its follow-up: no other rule's clock
			// runs until the customer writes again.
			return nil, q.ClearFollowUpDue(ctx, conv.ID)
		}
	}
	var due *time.Time
	for _, r := range pending(rules, decided, conv.ChannelID) {
		at := from.Add(r.Delay)
		due = &at
		break // rules come shortest delay first
	}
	if due == nil {
		return nil, q.ClearFollowUpDue(ctx, conv.ID)
	}
	if err := q.SetFollowUpDue(ctx, conv.TenantID, conv.ID, *due); err != nil {
		return nil, err
	}
	if schedule {
		return due, s.enqueue(ctx, q, conv.ID, *due)
	}
	return due, nil
}

// enqueue inserts a Follow-Up Request for at in q's transaction.
func (s *Service) enqueue(ctx context.Context, q *store.Queries, conversationID string, at time.Time) error {
	if err := s.Jobs.InsertTx(ctx, q.Tx(), RequestArgs{ID: conversationID}, &river.InsertOpts{ScheduledAt: at}); err != nil {
		return fmt.Errorf("schedule follow-up request: %w", err)
	}
	return nil
}

// pending lists the active rules for channelID not yet decided this session.
func pending(rules []parley.FollowUpRule, decided map[string]bool, channelID string) []parley.FollowUpRule {
	var out []parley.FollowUpRule
	for _, r := range rules {
		if r.Active && !decided[r.ID] && r.AppliesTo(channelID) {
			out = append(out, r)
		}
	}
	return out
}

// customerWroteLast reports whether the customer's message is the latest:
// every follow-up clock is stopped until the next agent message.
func customerWroteLast(conv parley.Conversation) bool {
	return conv.LastCustomerMessageAt != nil && (conv.LastAgentMessageAt == nil || conv.LastCustomerMessageAt.After(*conv.LastAgentMessageAt))
}

// OnCustomerMessage is the conversation store's hook: in the transaction
// that stores a contact's message it stops the conversation's pending
// follow-ups, counts the message as the reply to recent follow-ups, and
// records a survey answer.
func (s *Service) OnCustomerMessage(ctx context.Context, q *store.Queries, conv parley.Conversation, msg parley.Message) error {
	if err := q.ClearFollowUpDue(ctx, conv.ID); err != nil {
		return err
	}
	n, err := q.MarkFollowUpsReplied(ctx, conv.TenantID, conv.ID, msg.CreatedAt)
	if err != nil {
		return err
	}
	s.Metrics.countReplied(n)
	return s.recordAnswer(ctx, q, conv, msg)
}

// recordAnswer stores the customer's survey answer: a tapped button or list
// row names its follow-up; a typed answer counts for the survey the
// customer's message directly answers.
func (s *Service) recordAnswer(ctx context.Context, q *store.Queries, conv parley.Conversation, msg parley.Message) error {
	var f parley.FollowUp
	var raw string
	choice, _ := msg.Extra["interactive_id"].(string)
	if choice == "" {
		choice, _ = msg.Extra["button_payload"].(string)
	}
	if id, answer, ok := parseChoiceID(choice); ok {
		var err error
		if f, err = q.GetFollowUp(ctx, conv.TenantID, id); err != nil || f.ConversationID != conv.ID {
			s.log().WarnContext(ctx, "survey reply names an unknown follow-up", "tenant_id", conv.TenantID, "conversation_id", conv.ID, "choice", choice)
			return nil
		}
		raw = answer
	} else {
		if msg.Type != parley.MessageText || !conv.SessionStartedAt.Equal(msg.CreatedAt) || conv.LastAgentMessageAt == nil {
			return nil // not the first message after an agent message
		}
		latest, err := q.LatestSentFollowUp(ctx, conv.TenantID, conv.ID)
		if parley.ErrorCode(err) == parley.CodeNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		if latest.Survey == parley.SurveyNone || latest.Answer != "" || latest.MessageID == "" {
			return nil
		}
		sent, err := q.GetMessage(ctx, conv.TenantID, latest.MessageID)
		if err != nil || !sent.CreatedAt.Equal(*conv.LastAgentMessageAt) {
			return nil // another agent message came after the survey
		}
		f, raw = latest, msg.Content
	}
	if f.Survey == parley.SurveyNone {
		return nil
	}
	answer, score, ok := parseAnswer(f.Survey, raw)
	if !ok {
		return nil
	}
	if err := q.AnswerFollowUp(ctx, conv.TenantID, f.ID, answer, &score, msg.CreatedAt); err != nil {
		return err
	}
	s.Metrics.countAnswer(string(f.Survey), answer)
	err := q.AppendEvent(ctx, conv.TenantID, conv.ID, EventSurveyAnswered, SurveyAnsweredPayload{
		FollowUpID: f.ID, RuleID: f.RuleID, Survey: f.Survey, Answer: answer, Score: score, MessageID: msg.ID,
	})
	return err
}

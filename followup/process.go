package followup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// errChanged stops a decision whose conversation moved on meanwhile (the
// customer wrote, or another agent message restarted the clock).
var errChanged = errors.New("conversation changed since the follow-up was planned")

// situation is what a decision reads, loaded once per run.
type situation struct {
	conv     parley.Conversation
	tenant   parley.Tenant
	channel  *parley.Channel
	due      []parley.FollowUpRule // shortest delay first
	lastSeen time.Time             // last_agent_message_at the plan is based on
	from     time.Time             // when the follow-up clocks started (clockStart)
	waiting  bool                  // the latest agent message is still waiting to go out
}

// Process decides the conversation's due follow-ups at the clock's now.
// Rules that are not due yet, or a customer who wrote last, end it cleanly.
func (s *Service) Process(ctx context.Context, conv parley.Conversation) error {
	log := s.log().With("tenant_id", conv.TenantID, "conversation_id", conv.ID)
	now := s.Clock.Now()
	if conv.LastAgentMessageAt == nil || customerWroteLast(conv) {
		log.DebugContext(ctx, "no follow-up: the customer wrote last or no agent has written")
		return nil
	}
	sit, err := s.load(ctx, conv, now)
	if err != nil {
		return err
	}
	if sit.waiting {
		// The customer has not been sent the agent's last message yet (its
		// send is being retried, or waits out a crash): no follow-up before
		// it goes out. Look again one delay later.
		log.InfoContext(ctx, "follow-up waits: the agent's last message has not gone out yet")
		return s.Store.InTx(ctx, func(q *store.Queries) error {
			return s.enqueue(ctx, q, conv.ID, now.Add(sit.due[0].Delay))
		})
	}
	if len(sit.due) == 0 {
		// Nothing due (an earlier agent message's request, a rule that
		// changed, or a late send that restarted the clocks): bring the due
		// index up to date so the scan leaves it be, and when the clocks
		// were restarted, ask again when the next rule falls due.
		return s.Store.InTx(ctx, func(q *store.Queries) error {
			_, err := s.reschedule(ctx, q, conv, sit.from, !sit.from.Equal(sit.lastSeen))
			return err
		})
	}

	if reason, err := s.businessRule(ctx, sit); err != nil {
		return err
	} else if reason != "" {
		return s.skip(ctx, log, sit, sit.due, reason)
	}
	if opening, err := NextOpening(sit.tenant, now); err != nil {
		return err
	} else if opening.After(now) {
		return s.delay(ctx, log, sit, opening)
	}
	for i, r := range sit.due {
		out, reason, err := s.compose(ctx, sit, r, now)
		if err != nil {
			return err // transient (LLM unavailable): retry
		}
		if reason != "" {
			if err := s.skip(ctx, log, sit, sit.due[i:i+1], reason); err != nil {
				return err
			}
			continue
		}
		// One follow-up per session: the rules due with it are skipped in
		// the same transaction (seed: "only once per session").
		return s.send(ctx, log, sit, r, out, sit.due[i+1:])
	}
	return nil
}

// load reads the conversation's tenant, channel and due rules.
func (s *Service) load(ctx context.Context, conv parley.Conversation, now time.Time) (situation, error) {
	sit := situation{conv: conv, lastSeen: *conv.LastAgentMessageAt, from: *conv.LastAgentMessageAt}
	r := s.Store.Read() // the decision's transaction checks again that nothing moved
	rules, err := r.ActiveFollowUpRules(ctx, conv.TenantID)
	if err != nil || len(rules) == 0 {
		return sit, err
	}
	decided, sent, err := r.SessionFollowUps(ctx, conv.ID, conv.SessionStartedAt)
	if err != nil || sent {
		return sit, err // at most one follow-up per session
	}
	rules = pending(rules, decided, conv.ChannelID)
	if len(rules) == 0 || conv.LastAgentMessageAt.Add(rules[0].Delay).After(now) {
		return sit, nil // the common early look: nothing due even from the queueing
	}
	if sit.from, sit.waiting, err = clockStart(ctx, r, conv, now); err != nil {
		return sit, err
	}
	for _, r := range rules {
		if !sit.from.Add(r.Delay).After(now) {
			sit.due = append(sit.due, r)
		}
	}
	if sit.waiting {
		sit.due = rules[:1]
		return sit, nil
	}
	if len(sit.due) == 0 {
		return sit, nil
	}
	if sit.tenant, err = r.GetTenant(ctx, conv.TenantID); err != nil {
		return sit, err
	}
	ch, err := r.GetChannel(ctx, conv.TenantID, conv.ChannelID)
	switch {
	case err == nil:
		sit.channel = &ch
	case parley.ErrorCode(err) != parley.CodeNotFound:
		return sit, err
	}
	return sit, nil
}

// lateSend is how much later than its queueing an agent message must have
// reached the provider for its follow-up clocks to start from the send
// instead: a crash or a provider outage held it back, and the customer
// could not answer what they had not received.
const lateSend = 5 * time.Second

// clockStart returns when the conversation's follow-up clocks started: the
// latest agent message's queueing, or its send when that came lateSend or
// more later. waiting reports a message queued longer than lateSend ago
// and not yet known to be sent.
func clockStart(ctx context.Context, r *store.Queries, conv parley.Conversation, now time.Time) (from time.Time, waiting bool, err error) {
	from = *conv.LastAgentMessageAt
	a, err := r.LastAgentSend(ctx, conv.TenantID, conv.ID)
	if parley.ErrorCode(err) == parley.CodeNotFound {
		return from, false, nil
	}
	if err != nil {
		return from, false, err
	}
	switch {
	case a.Status == parley.StatusQueued:
		// Not known to have gone out, even when an attempt is calling the
		// provider (its mark may be a dead attempt's, about to be retried).
		return from, now.Sub(a.QueuedAt) >= lateSend, nil
	case a.Status == parley.StatusFailed || a.SentAt == nil:
		return from, false, nil
	case a.SentAt.Sub(a.QueuedAt) >= lateSend && a.SentAt.After(from):
		return *a.SentAt, false, nil
	}
	return from, false, nil
}

// businessRule checks the original design's business rules, in its order, and returns
// the reason of the first that fails ("" when all pass): the conversation
// is open, the tenant has the APPOINTMENTS module and the follow-up feature,
// the customer has no appointment on record, and the channel is active or
// the contact one of its test senders.
func (s *Service) businessRule(ctx context.Context, sit situation) (string, error) {
	if sit.conv.Status != parley.ConversationOpen {
		return ReasonNotOpen, nil
	}
	if !sit.tenant.HasModule(parley.ModuleAppointments) {
		return ReasonNoAppointmentsModule, nil
	}
	if !sit.tenant.Features[parley.FeatureFollowUps] {
		return ReasonFeatureOff, nil
	}
	customerID := sit.conv.CustomerID
	if customerID == "" {
		// The contact may have become a customer after the conversation began.
		c, err := s.Store.CustomerByPhone(ctx, sit.conv.TenantID, sit.conv.ContactPhone)
		if err != nil && parley.ErrorCode(err) != parley.CodeNotFound {
			return "", err
		}
		customerID = c.ID
	}
	if customerID != "" {
		// Any appointment on record, past ones too: a customer who has
		// booked is not chased.
		_, err := s.Store.AnyAppointment(ctx, sit.conv.TenantID, customerID)
		if err == nil {
			return ReasonAppointment, nil
		}
		if parley.ErrorCode(err) != parley.CodeNotFound {
			return "", err
		}
	}
	if sit.channel == nil {
		return ReasonNoChannel, nil
	}
	if !sit.channel.Active && !sit.channel.IsTestSender(sit.conv.ContactPhone) {
		return ReasonChannelInactive, nil
	}
	return "", nil
}

// decide runs fn in a transaction that first makes sure the conversation is
// still silent as planned. A rule decided meanwhile by another process, or
// a conversation that changed, ends quietly: false, nil.
func (s *Service) decide(ctx context.Context, log *slog.Logger, sit situation, fn func(q *store.Queries) error) (bool, error) {
	err := s.Store.InTx(ctx, func(q *store.Queries) error {
		ok, err := q.HoldSilentConversation(ctx, sit.conv.TenantID, sit.conv.ID, sit.lastSeen)
		if err != nil {
			return err
		}
		if !ok {
			return errChanged
		}
		return fn(q)
	})
	switch {
	case errors.Is(err, errChanged), errors.Is(err, store.ErrDecided):
		log.InfoContext(ctx, "follow-up already handled", "why", err.Error())
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// skip records each rule as skipped for reason and schedules what is left.
func (s *Service) skip(ctx context.Context, log *slog.Logger, sit situation, rules []parley.FollowUpRule, reason string) error {
	done, err := s.decide(ctx, log, sit, func(q *store.Queries) error {
		for _, r := range rules {
			if _, err := q.ClaimFollowUp(ctx, parley.FollowUp{TenantID: sit.conv.TenantID, RuleID: r.ID, ConversationID: sit.conv.ID,
				SessionStartedAt: sit.conv.SessionStartedAt, Outcome: parley.FollowUpSkipped, Reason: reason, Survey: r.Survey, ReplyWindow: r.ReplyWindow}); err != nil {
				return err
			}
			if err := q.AppendEvent(ctx, sit.conv.TenantID, sit.conv.ID, EventSkipped, DecisionPayload{
				RuleID: r.ID, Title: r.Title, Decision: "skipped", Reason: reason,
			}); err != nil {
				return err
			}
		}
		_, err := s.reschedule(ctx, q, sit.conv, sit.from, true)
		return err
	})
	if done {
		for _, r := range rules {
			s.Metrics.countSkipped(reason)
			log.InfoContext(ctx, "follow-up skipped", "rule_id", r.ID, "reason", reason)
		}
	}
	return err
}

// delay moves the conversation's follow-ups to the next opening of the
// tenant's availability hours.
func (s *Service) delay(ctx context.Context, log *slog.Logger, sit situation, opening time.Time) error {
	ids := make([]string, len(sit.due))
	for i, r := range sit.due {
		ids[i] = r.ID
	}
	var again bool
	done, err := s.decide(ctx, log, sit, func(q *store.Queries) error {
		if err := q.SetFollowUpDue(ctx, sit.conv.TenantID, sit.conv.ID, opening); err != nil {
			return err
		}
		// Two requests due together (the scheduled one and one asked for,
		// or one a rule's backfill added) delay this silence once: the
		// second puts the due time back and adds nothing. The hold
		// serializes them, so the first one's event is seen here.
		prev, err := q.LatestEvent(ctx, sit.conv.TenantID, sit.conv.ID, EventDelayed, sit.lastSeen)
		if err != nil {
			return err
		}
		if again = prev != nil && delayedUntil(*prev).Equal(opening); again {
			return nil
		}
		if err := s.enqueue(ctx, q, sit.conv.ID, opening); err != nil {
			return err
		}
		return q.AppendEvent(ctx, sit.conv.TenantID, sit.conv.ID, EventDelayed, DelayedPayload{
			RuleIDs: ids, Decision: "delayed", Reason: ReasonOutsideHours, Until: opening, TimeZone: sit.tenant.TimeZone,
		})
	})
	switch {
	case done && again:
		log.InfoContext(ctx, "follow-up already delayed to this opening", "until", opening)
	case done:
		s.Metrics.countDelayed()
		log.InfoContext(ctx, "follow-up delayed to the next opening", "until", opening)
	}
	return err
}

// delayedUntil reads a Follow-Up Delayed event's opening (zero if unreadable).
func delayedUntil(ev parley.Event) time.Time {
	s, _ := ev.Payload["until"].(string)
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// send queues the follow-up through the outbox and records it, and records
// the rules due with it (others) as skipped: once per session. The outbox's
// agent-message hook then finds the session done and clears its due time.
func (s *Service) send(ctx context.Context, log *slog.Logger, sit situation, r parley.FollowUpRule, out outgoing, others []parley.FollowUpRule) error {
	done, err := s.decide(ctx, log, sit, func(q *store.Queries) error {
		f, err := q.ClaimFollowUp(ctx, parley.FollowUp{TenantID: sit.conv.TenantID, RuleID: r.ID, ConversationID: sit.conv.ID,
			SessionStartedAt: sit.conv.SessionStartedAt, Outcome: parley.FollowUpSent, Survey: out.survey, ReplyWindow: r.ReplyWindow})
		if err != nil {
			return err
		}
		if err := s.skipOthers(ctx, q, sit, r, f.ID, others); err != nil {
			return err
		}
		// Counted at the commit, before the outbox's sender (which runs
		// right after it) takes its time.
		q.AfterCommit(ctx, func(ctx context.Context) {
			s.Metrics.countSent(out.kind, string(out.survey))
			log.InfoContext(ctx, "follow-up sent", "rule_id", r.ID, "kind", out.kind)
		})
		msg := parley.Message{Role: parley.RoleAI, Content: out.text, Template: out.template,
			Extra: map[string]any{"followup_id": f.ID, "followup_rule_id": r.ID}}
		if out.survey != parley.SurveyNone {
			msg.Extra["survey"] = out.survey
			msg = surveyMessage(msg, out.survey, f.ID)
		}
		if msg, err = s.Outbox.Queue(ctx, q, sit.conv, msg); err != nil {
			return fmt.Errorf("queue follow-up: %w", err)
		}
		if err := q.SetFollowUpMessage(ctx, sit.conv.TenantID, f.ID, msg.ID); err != nil {
			return err
		}
		payload := DecisionPayload{RuleID: r.ID, Title: r.Title, Decision: "sent", Reason: out.reason, FollowUpID: f.ID,
			MessageID: msg.ID, Kind: out.kind, Survey: out.survey}
		err = q.AppendEvent(ctx, sit.conv.TenantID, sit.conv.ID, EventSent, payload)
		return err
	})
	if done {
		for _, o := range others {
			s.Metrics.countSkipped(ReasonOncePerSession)
			log.InfoContext(ctx, "follow-up skipped", "rule_id", o.ID, "reason", ReasonOncePerSession, "sent_rule_id", r.ID)
		}
	}
	return err
}

// skipOthers records the rules due with the one sent as skipped: the
// session has had its follow-up.
func (s *Service) skipOthers(ctx context.Context, q *store.Queries, sit situation, sent parley.FollowUpRule, followUpID string, others []parley.FollowUpRule) error {
	for _, o := range others {
		if _, err := q.ClaimFollowUp(ctx, parley.FollowUp{TenantID: sit.conv.TenantID, RuleID: o.ID, ConversationID: sit.conv.ID,
			SessionStartedAt: sit.conv.SessionStartedAt, Outcome: parley.FollowUpSkipped, Reason: ReasonOncePerSession, Survey: o.Survey, ReplyWindow: o.ReplyWindow}); err != nil {
			return err
		}
		if err := q.AppendEvent(ctx, sit.conv.TenantID, sit.conv.ID, EventSkipped, DecisionPayload{
			RuleID: o.ID, Title: o.Title, Decision: "skipped", Reason: ReasonOncePerSession,
			SentRuleID: sent.ID, FollowUpID: followUpID,
		}); err != nil {
			return err
		}
	}
	return nil
}

package leads

import (
	"context"
	"fmt"
	"net/mail"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// codeNoValidChannels is NO_VALID_CHANNELS on the regular API: nothing in
// the follow-up can be delivered to the lead.
const codeNoValidChannels parley.Code = "no_valid_channels"

// startSequence schedules a follow-up's delivery in q's transaction: one
// step per deliverable channel, in the order e-mail, WhatsApp,
// notification, web; the first at once and each next one interval later.
// An active sequence of the lead is cancelled as replaced.
func (s *Service) startSequence(ctx context.Context, q *store.Queries, tenantID string, site parley.Site, leadID, commandID string,
	b brief, messages map[string]parley.FollowUpContent, interval string) (parley.Sequence, error) {
	d, err := ParseInterval(interval)
	if err != nil {
		return parley.Sequence{}, parley.FieldError("follow_up_interval", "%v", err)
	}
	now := s.Clock.Now()
	seq := parley.Sequence{TenantID: tenantID, LeadID: leadID, SiteID: site.ID, VisitorID: b.VisitorID, CommandID: commandID,
		Interval: interval, IntervalS: int64(d / time.Second), Messages: map[string]parley.FollowUpContent{}, StartedAt: now}
	for _, ch := range parley.LeadChannels {
		c, ok := messages[ch]
		if !ok || !deliverable(ch, site, b) {
			continue
		}
		seq.Messages[ch] = c
		seq.Steps = append(seq.Steps, parley.SequenceStep{Position: len(seq.Steps), Channel: ch, DueAt: now.Add(time.Duration(len(seq.Steps)) * d)})
	}
	if len(seq.Steps) == 0 {
		return seq, &parley.Error{Code: codeNoValidChannels, Message: "no valid communication channels: none of the follow-up's channels can reach this lead (e-mail needs an address and a sender, WhatsApp a number and a channel, notification and web a visitor)"}
	}
	if valid := b.Lead.Email; validEmail(valid) && seq.Messages[parley.LeadChannelEmail] != (parley.FollowUpContent{}) {
		a, _ := mail.ParseAddress(valid)
		seq.Email = a.Address
	}
	if _, ok := seq.Messages[parley.LeadChannelWhatsApp]; ok {
		seq.Phone = b.WhatsAppTo
	}

	if prev, err := q.LatestSequence(ctx, tenantID, leadID); err == nil && prev.Status == parley.SequenceActive {
		if _, err := q.EndSequence(ctx, tenantID, prev.ID, parley.SequenceCancelled, "replaced by a newer sequence"); err != nil {
			return seq, err
		}
		if _, err := q.AppendLeadEvent(ctx, tenantID, leadID, prev.ID, EventSequenceCancelled, map[string]any{"reason": "replaced by a newer sequence"}); err != nil {
			return seq, err
		}
	} else if err != nil && parley.ErrorCode(err) != parley.CodeNotFound {
		return seq, err
	}
	seq, err = q.CreateSequence(ctx, seq)
	if err != nil {
		return seq, err
	}
	for _, st := range seq.Steps {
		opts := &river.InsertOpts{}
		if st.Position > 0 {
			opts.ScheduledAt = st.DueAt
		}
		if err := s.Jobs.InsertTx(ctx, q.Tx(), StepArgs{TenantID: tenantID, SequenceID: seq.ID, StepID: st.ID}, opts); err != nil {
			return seq, fmt.Errorf("enqueue sequence step: %w", err)
		}
	}
	steps := make([]map[string]any, len(seq.Steps))
	for i, st := range seq.Steps {
		steps[i] = map[string]any{"position": st.Position, "channel": st.Channel, "due_at": st.DueAt}
	}
	if _, err := q.AppendLeadEvent(ctx, tenantID, leadID, seq.ID, EventSequenceScheduled, map[string]any{
		"command_id": commandID, "interval": interval, "steps": steps,
	}); err != nil {
		return seq, err
	}
	return seq, nil
}

// deliverable says whether a channel's step can reach the lead at all.
func deliverable(ch string, site parley.Site, b brief) bool {
	switch ch {
	case parley.LeadChannelEmail:
		return site.Email != nil && validEmail(b.Lead.Email)
	case parley.LeadChannelWhatsApp:
		return site.WhatsAppChannelID != "" && b.WhatsAppTo != ""
	default:
		return b.VisitorID != ""
	}
}

// StartSequence delivers the lead's latest follow-up (or the one written
// by commandID) as a sequence at interval ("" uses the interval the
// follow-up asked for, else DefaultInterval). visitorID, when set,
// addresses notifications and banners to that visitor.
func (s *Service) StartSequence(ctx context.Context, tenantID, leadID, interval, visitorID, commandID string) (parley.Sequence, error) {
	lead, err := s.Store.GetLead(ctx, tenantID, leadID)
	if err != nil {
		return parley.Sequence{}, err
	}
	var cmd parley.Command
	if commandID != "" {
		cmd, err = s.Store.GetCommand(ctx, tenantID, commandID)
		if err == nil && (cmd.LeadID != lead.ID || cmd.Status != parley.CommandCompleted) {
			err = parley.FieldError("command_id", "must name a completed follow-up command of this lead")
		}
	} else {
		cmd, err = s.Store.LatestFollowUp(ctx, tenantID, leadID)
		if parley.ErrorCode(err) == parley.CodeNotFound {
			err = parley.Errorf(parley.CodeConflict, "the lead has no follow-up yet: call POST /api/agents/sales/leadFollowUp first")
		}
	}
	if err != nil {
		return parley.Sequence{}, err
	}
	b, err := briefFrom(cmd.Input)
	if err != nil {
		return parley.Sequence{}, fmt.Errorf("read follow-up brief: %w", err)
	}
	messages, err := messagesFrom(cmd.Output)
	if err != nil {
		return parley.Sequence{}, err
	}
	if visitorID != "" {
		v, err := s.Store.GetVisitor(ctx, tenantID, visitorID)
		if err != nil || v.SiteID != lead.SiteID {
			return parley.Sequence{}, parley.FieldError("visitor_id", "no such visitor on the lead's site")
		}
		b.VisitorID = visitorID
	}
	if interval == "" {
		interval = b.FollowUpInterval
	}
	if interval == "" {
		interval = DefaultInterval
	}
	site, err := s.Store.GetSite(ctx, tenantID, lead.SiteID)
	if err != nil {
		return parley.Sequence{}, err
	}
	var seq parley.Sequence
	err = s.Store.InTx(ctx, func(q *store.Queries) error {
		seq, err = s.startSequence(ctx, q, tenantID, site, lead.ID, cmd.ID, b, messages, interval)
		return err
	})
	return seq, err
}

func messagesFrom(output map[string]any) (map[string]parley.FollowUpContent, error) {
	var out struct {
		Messages map[string]parley.FollowUpContent `json:"messages"`
	}
	if err := remarshal(output, &out); err != nil || len(out.Messages) == 0 {
		return nil, parley.Errorf(parley.CodeConflict, "the follow-up has no messages to deliver")
	}
	return out.Messages, nil
}

// CancelSequence cancels the lead's active sequence: steps not yet run
// will not run, banners are withdrawn.
func (s *Service) CancelSequence(ctx context.Context, tenantID, leadID string) (parley.Sequence, error) {
	var seq parley.Sequence
	err := s.Store.InTx(ctx, func(q *store.Queries) error {
		var err error
		seq, err = q.LatestSequence(ctx, tenantID, leadID)
		if err != nil {
			return err
		}
		ended, err := q.EndSequence(ctx, tenantID, seq.ID, parley.SequenceCancelled, "cancelled through the API")
		if err != nil {
			return err
		}
		if !ended {
			return parley.Errorf(parley.CodeNotFound, "the lead has no active sequence")
		}
		if _, err := q.AppendLeadEvent(ctx, tenantID, leadID, seq.ID, EventSequenceCancelled, map[string]any{"reason": "cancelled through the API"}); err != nil {
			return err
		}
		seq, err = q.GetSequence(ctx, tenantID, seq.ID)
		return err
	})
	return seq, err
}

// RecordReply logs that the lead answered (e.g. an e-mail reply seen by
// the sales team) and stops the active sequence at once.
func (s *Service) RecordReply(ctx context.Context, tenantID, leadID, channel, summary string) error {
	if _, err := s.Store.GetLead(ctx, tenantID, leadID); err != nil {
		return err
	}
	return s.Store.InTx(ctx, func(q *store.Queries) error {
		if _, err := q.AppendLeadEvent(ctx, tenantID, leadID, "", EventLeadReplied, map[string]any{"channel": channel, "summary": summary}); err != nil {
			return err
		}
		return s.stopOnReply(ctx, q, tenantID, leadID, "lead replied on "+channel)
	})
}

// stopOnReply stops the lead's active sequence, if any, because the lead replied.
func (s *Service) stopOnReply(ctx context.Context, q *store.Queries, tenantID, leadID, reason string) error {
	seq, err := q.LatestSequence(ctx, tenantID, leadID)
	if parley.ErrorCode(err) == parley.CodeNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	ended, err := q.EndSequence(ctx, tenantID, seq.ID, parley.SequenceStopped, reason)
	if err != nil || !ended {
		return err
	}
	_, err = q.AppendLeadEvent(ctx, tenantID, leadID, seq.ID, EventSequenceStopped, map[string]any{"reason": reason})
	return err
}

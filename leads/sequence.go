package leads

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/store"
)

// codeNoValidChannels is NO_VALID_CHANNELS on the regular API: nothing in
// the follow-up can be delivered to the lead.
const codeNoValidChannels parley.Code = "no_valid_channels"

// ChannelReport says what became of one channel of a follow-up: whether
// content was written for it and whether a sequence (started now, at the
// follow-up's spacing) delivers it, with the reason when not.
type ChannelReport struct {
	Channel     string `json:"channel"`
	Written     bool   `json:"written"`
	Deliverable bool   `json:"deliverable"`
	// To is the address or E.164 number the step goes to.
	To     string `json:"to,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// conversationFinder is what deliverability needs to know of the lead's
// WhatsApp conversation.
type conversationFinder interface {
	OpenConversationByContact(ctx context.Context, tenantID string, kind parley.ConversationKind, phone string) (parley.Conversation, error)
	TemplateMappingFor(ctx context.Context, tenantID, purpose, channelType string) (store.TemplateMapping, error)
}

// plan decides each channel's deliverability, in delivery order, for a
// sequence starting now whose deliverable steps are interval apart.
// written lists the channels with content; notWritten says why the others
// have none.
func (s *Service) plan(ctx context.Context, conv conversationFinder, tenantID string, site parley.Site, b brief,
	written []string, notWritten map[string]string, interval time.Duration) ([]ChannelReport, error) {
	now := s.Clock.Now()
	has := map[string]bool{}
	for _, ch := range written {
		has[ch] = true
	}
	out := make([]ChannelReport, 0, len(parley.LeadChannels))
	steps := 0
	for _, ch := range parley.LeadChannels {
		r := ChannelReport{Channel: ch, Written: has[ch]}
		if !r.Written {
			r.Reason = notWritten[ch]
			if r.Reason == "" {
				r.Reason = "the follow-up has no content for this channel"
			}
			out = append(out, r)
			continue
		}
		var err error
		r.Deliverable, r.To, r.Reason, err = s.deliverable(ctx, conv, tenantID, ch, site, b, now.Add(time.Duration(steps)*interval))
		if err != nil {
			return nil, err
		}
		if r.Deliverable {
			steps++
		}
		out = append(out, r)
	}
	return out, nil
}

// deliverable says whether a channel's step, due at due, can reach the
// lead, and if not, why.
func (s *Service) deliverable(ctx context.Context, conv conversationFinder, tenantID, ch string, site parley.Site, b brief, due time.Time) (bool, string, string, error) {
	switch ch {
	case parley.LeadChannelEmail:
		if site.Email == nil {
			return false, "", "the site has no e-mail sender", nil
		}
		a, err := mail.ParseAddress(b.Lead.Email)
		if err != nil || !validEmail(b.Lead.Email) {
			return false, "", "the lead has no valid e-mail address", nil
		}
		return true, a.Address, "", nil
	case parley.LeadChannelWhatsApp:
		switch {
		case site.WhatsAppChannelID == "":
			return false, "", "the site has no WhatsApp channel", nil
		case b.WhatsAppTo == "" && b.WhatsAppWhy != "":
			return false, "", b.WhatsAppWhy, nil
		case b.WhatsAppTo == "":
			return false, "", "the lead has no phone number WhatsApp can reach", nil
		case site.WhatsAppTemplate != nil && site.WhatsAppTemplate.Name != "":
			return true, b.WhatsAppTo, "", nil
		}
		// The tenant's lead template serves a site without its own (the
		// site's channel is WhatsApp Cloud or Twilio; both are looked at).
		for _, typ := range []parley.ChannelType{parley.ChannelWhatsApp, parley.ChannelTwilio} {
			m, err := conv.TemplateMappingFor(ctx, tenantID, string(campaign.LeadWhatsAppStep), string(typ))
			if err != nil && parley.ErrorCode(err) != parley.CodeNotFound {
				return false, "", "", err
			}
			if err == nil && m.Enabled && m.Name != "" {
				return true, b.WhatsAppTo, "", nil
			}
		}
		// Free text needs the lead's 24-hour window open at the step's
		// time, and a message from the lead after the start stops the
		// sequence: only a window already open can carry the step.
		c, err := conv.OpenConversationByContact(ctx, tenantID, parley.KindCustomer, b.WhatsAppTo)
		if err != nil && parley.ErrorCode(err) != parley.CodeNotFound {
			return false, "", "", err
		}
		if err == nil && parley.WindowOpen(c.LastCustomerMessageAt, due) {
			return true, b.WhatsAppTo, "", nil
		}
		return false, "", "the site has no WhatsApp template (nor has the tenant one for lead steps), and the lead's 24-hour window is closed at the step's time " +
			"(WhatsApp allows free text only within 24 hours of the lead's last message; a new message from the lead stops the sequence)", nil
	default:
		if b.VisitorID == "" {
			return false, "", "no visitor to show it to: send visitorId, or link a visitor to the lead", nil
		}
		return true, b.VisitorID, "", nil
	}
}

func anyDeliverable(reports []ChannelReport) bool {
	for _, r := range reports {
		if r.Deliverable {
			return true
		}
	}
	return false
}

// undeliverable is NO_VALID_CHANNELS' message: each channel's reason.
func undeliverable(reports []ChannelReport) string {
	parts := make([]string, 0, len(reports))
	for _, r := range reports {
		parts = append(parts, r.Channel+": "+r.Reason)
	}
	return "no valid communication channels: nothing in this follow-up can be delivered to the lead (" + strings.Join(parts, "; ") + ")"
}

// startSequence schedules a follow-up's delivery in q's transaction: one
// step per deliverable channel, in the order e-mail, WhatsApp,
// notification, web; the first at once and each next one the schedule's
// interval later. Channels it cannot deliver are in the reports and in
// the sequence_scheduled event; with none deliverable nothing is stored.
// An active sequence of the lead is cancelled as replaced.
func (s *Service) startSequence(ctx context.Context, q *store.Queries, tenantID string, site parley.Site, leadID, commandID string,
	b brief, messages map[string]parley.LeadContent, notWritten map[string]string, sch Schedule) (parley.Sequence, []ChannelReport, error) {
	d := sch.duration()
	written := make([]string, 0, len(messages))
	for ch := range messages {
		written = append(written, ch)
	}
	reports, err := s.plan(ctx, q, tenantID, site, b, written, notWritten, d)
	if err != nil {
		return parley.Sequence{}, nil, err
	}
	if !anyDeliverable(reports) {
		return parley.Sequence{}, reports, &parley.Error{Code: codeNoValidChannels, Message: undeliverable(reports)}
	}
	now := s.Clock.Now()
	seq := parley.Sequence{TenantID: tenantID, LeadID: leadID, SiteID: site.ID, VisitorID: b.VisitorID, CommandID: commandID,
		Interval: sch.Interval, IntervalS: sch.IntervalS, Messages: map[string]parley.LeadContent{}, StartedAt: now}
	var skipped []map[string]any
	for _, r := range reports {
		if !r.Deliverable {
			skipped = append(skipped, map[string]any{"channel": r.Channel, "reason": r.Reason})
			continue
		}
		seq.Messages[r.Channel] = messages[r.Channel]
		seq.Steps = append(seq.Steps, parley.SequenceStep{Position: len(seq.Steps), Channel: r.Channel, DueAt: now.Add(time.Duration(len(seq.Steps)) * d)})
		switch r.Channel {
		case parley.LeadChannelEmail:
			seq.Email = r.To
		case parley.LeadChannelWhatsApp:
			seq.Phone = r.To
		}
	}

	if prev, err := q.LatestSequence(ctx, tenantID, leadID); err == nil && prev.Status == parley.SequenceActive {
		if _, err := q.EndSequence(ctx, tenantID, prev.ID, parley.SequenceCancelled, "replaced by a newer sequence"); err != nil {
			return seq, nil, err
		}
		if _, err := q.AppendLeadEvent(ctx, tenantID, leadID, prev.ID, EventSequenceCancelled, map[string]any{"reason": "replaced by a newer sequence"}); err != nil {
			return seq, nil, err
		}
	} else if err != nil && parley.ErrorCode(err) != parley.CodeNotFound {
		return seq, nil, err
	}
	seq, err = q.CreateSequence(ctx, seq)
	if err != nil {
		return seq, nil, err
	}
	for _, st := range seq.Steps {
		opts := &river.InsertOpts{}
		if st.Position > 0 {
			opts.ScheduledAt = st.DueAt
		}
		if err := s.Jobs.InsertTx(ctx, q.Tx(), StepArgs{TenantID: tenantID, SequenceID: seq.ID, StepID: st.ID}, opts); err != nil {
			return seq, nil, fmt.Errorf("enqueue sequence step: %w", err)
		}
	}
	steps := make([]map[string]any, len(seq.Steps))
	for i, st := range seq.Steps {
		steps[i] = map[string]any{"position": st.Position, "channel": st.Channel, "due_at": st.DueAt}
	}
	if _, err := q.AppendLeadEvent(ctx, tenantID, leadID, seq.ID, EventSequenceScheduled, map[string]any{
		"command_id": commandID, "interval": sch.Interval, "steps": steps, "skipped": skipped,
	}); err != nil {
		return seq, nil, err
	}
	return seq, reports, nil
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
	var cmd parley.LeadCommand
	if commandID != "" {
		cmd, err = s.Store.GetCommand(ctx, tenantID, commandID)
		if err == nil && (cmd.LeadID != lead.ID || cmd.Status != parley.LeadCommandCompleted) {
			err = parley.FieldError("command_id", "must name a completed follow-up command of this lead")
		}
	} else {
		cmd, err = s.Store.LatestLeadCommand(ctx, tenantID, leadID)
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
	// An interval asked for here must be one; the follow-up's own is free
	// text, read as the follow-up call read it.
	sch := ReadSchedule(b.FollowUpInterval)
	if interval != "" {
		d, err := ParseInterval(interval)
		if err != nil {
			return parley.Sequence{}, parley.FieldError("follow_up_interval", "%v", err)
		}
		sch = Schedule{Requested: interval, Interval: Describe(d), IntervalS: int64(d / time.Second)}
	}
	site, err := s.Store.GetSite(ctx, tenantID, lead.SiteID)
	if err != nil {
		return parley.Sequence{}, err
	}
	var seq parley.Sequence
	err = s.Store.InTx(ctx, func(q *store.Queries) error {
		seq, _, err = s.startSequence(ctx, q, tenantID, site, lead.ID, cmd.ID, b, messages, nil, sch)
		return err
	})
	return seq, err
}

func messagesFrom(output map[string]any) (map[string]parley.LeadContent, error) {
	var out struct {
		Messages map[string]parley.LeadContent `json:"messages"`
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

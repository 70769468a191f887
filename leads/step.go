package leads

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/channel/email"
	"github.com/parleyhq/parley/store"
)

// StepArgs is the job that delivers one step of a lead sequence.
type StepArgs struct {
	TenantID   string `json:"tenant_id"`
	SequenceID string `json:"sequence_id"`
	StepID     string `json:"step_id"`
}

// Kind is the job's stable name.
func (StepArgs) Kind() string { return "lead_follow_up_step" }

// InsertOpts: one job per step, however often it is inserted.
func (StepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 8, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// StepWorker works StepArgs.
type StepWorker struct {
	river.WorkerDefaults[StepArgs]
	S *Service
}

// Timeout bounds one attempt: an SMTP conversation, or a few queries.
func (w *StepWorker) Timeout(*river.Job[StepArgs]) time.Duration { return 2 * time.Minute }

// errStepDone rolls a transaction back when another attempt already
// finished the step.
var errStepDone = errors.New("step already finished")

// Work delivers the step unless the sequence has ended or the lead has
// replied since it started (checked now, at the step's run time). Every
// outcome is logged on the lead. A step finishes once: its status moves
// from scheduled in the same transaction as what it delivers, except for
// e-mail, which is sent first and recorded after (at least once, with a
// stable Message-ID).
func (w *StepWorker) Work(ctx context.Context, job *river.Job[StepArgs]) error {
	s, a := w.S, job.Args
	log := s.Log.With("tenant_id", a.TenantID, "sequence_id", a.SequenceID, "step_id", a.StepID, "job_id", job.ID)
	seq, err := s.Store.GetSequence(ctx, a.TenantID, a.SequenceID)
	if parley.ErrorCode(err) == parley.CodeNotFound {
		return nil // the lead (and its sequences) was deleted
	}
	if err != nil {
		return err
	}
	var step parley.SequenceStep
	for _, st := range seq.Steps {
		if st.ID == a.StepID {
			step = st
		}
	}
	if step.ID == "" || step.Status != parley.StepScheduled {
		return nil
	}
	log = log.With("lead_id", seq.LeadID, "channel", step.Channel)
	if seq.Status != parley.SequenceActive {
		_, err := s.Store.FinishStep(ctx, a.TenantID, step.ID, parley.StepCancelled, "sequence "+seq.Status)
		return err
	}

	replied, err := s.Store.LeadRepliedSince(ctx, a.TenantID, seq.Phone, seq.StartedAt)
	if err != nil {
		return err
	}
	if replied {
		log.InfoContext(ctx, "lead replied; sequence stopped")
		return s.Store.InTx(ctx, func(q *store.Queries) error {
			return s.stopOnReply(ctx, q, a.TenantID, seq.LeadID, "lead replied on whatsapp")
		})
	}

	site, err := s.Store.GetSite(ctx, a.TenantID, seq.SiteID)
	if parley.ErrorCode(err) == parley.CodeNotFound {
		return s.record(ctx, seq, step, parley.StepSkipped, "the site was deleted", nil)
	}
	if err != nil {
		return err
	}
	content := seq.Messages[step.Channel]
	switch step.Channel {
	case parley.LeadChannelEmail:
		err = w.email(ctx, job, seq, step, site, content)
	case parley.LeadChannelWhatsApp:
		err = s.whatsapp(ctx, seq, step, site, content)
	case parley.LeadChannelNotification, parley.LeadChannelWeb:
		err = s.visitorMessage(ctx, seq, step, content)
	default:
		err = s.record(ctx, seq, step, parley.StepSkipped, "unknown channel "+step.Channel, nil)
	}
	if errors.Is(err, errStepDone) {
		return nil
	}
	if err != nil {
		log.WarnContext(ctx, "sequence step failed", "attempt", job.Attempt, "err", err)
	}
	return err
}

// email sends the step's e-mail. Refusals and exhausted retries mark the
// step failed; other errors make River retry.
func (w *StepWorker) email(ctx context.Context, job *river.Job[StepArgs], seq parley.Sequence, step parley.SequenceStep, site parley.Site, c parley.LeadContent) error {
	s := w.S
	if site.Email == nil || seq.Email == "" {
		return s.record(ctx, seq, step, parley.StepSkipped, "no e-mail sender or address any more", nil)
	}
	domain := site.Email.FromAddress[strings.LastIndexByte(site.Email.FromAddress, '@')+1:]
	lead, _ := s.Store.GetLead(ctx, seq.TenantID, seq.LeadID)
	err := s.Mailer.Send(ctx, *site.Email, email.Email{
		To: seq.Email, ToName: lead.Name, Subject: c.Title, Body: c.Message,
		MessageID: step.ID + "@" + domain, Date: s.Clock.Now(),
	})
	switch {
	case err == nil:
		return s.record(ctx, seq, step, parley.StepSent, "sent to "+seq.Email, map[string]any{"to": seq.Email, "subject": c.Title})
	case errors.Is(err, email.ErrMailRejected) || job.Attempt >= job.MaxAttempts:
		return s.record(ctx, seq, step, parley.StepFailed, err.Error(), map[string]any{"to": seq.Email, "attempt": job.Attempt})
	}
	return err
}

// whatsapp queues the step's message in the lead's conversation through
// the outbox, so the channel's sender delivers it: free text inside the
// 24-hour window, the site's template outside it. Scheduling leaves out a
// step that has neither; one whose site lost its template since is
// skipped, and the skip is logged on the lead.
func (s *Service) whatsapp(ctx context.Context, seq parley.Sequence, step parley.SequenceStep, site parley.Site, c parley.LeadContent) error {
	if site.WhatsAppChannelID == "" || seq.Phone == "" {
		return s.record(ctx, seq, step, parley.StepSkipped, "no WhatsApp channel or number any more", nil)
	}
	return s.Store.InTx(ctx, func(q *store.Queries) error {
		conv, err := q.OpenConversationByContact(ctx, seq.TenantID, parley.KindCustomer, seq.Phone)
		if parley.ErrorCode(err) == parley.CodeNotFound {
			conv, err = s.openConversation(ctx, q, seq, site)
		}
		if err != nil {
			return err
		}
		msg := parley.Message{Role: parley.RoleAI, ChannelID: site.WhatsAppChannelID,
			Extra: map[string]any{"lead_id": seq.LeadID, "sequence_id": seq.ID, "step_id": step.ID}}
		how := "free text (24-hour window open)"
		if parley.WindowOpen(conv.LastCustomerMessageAt, s.Clock.Now()) {
			msg.Content = c.Message
		} else {
			lead, _ := q.GetLead(ctx, seq.TenantID, seq.LeadID)
			name := firstName(lead.Name)
			if name == "" {
				name = "there"
			}
			if t := site.WhatsAppTemplate; t != nil && t.Name != "" {
				msg.Template = &parley.Template{Name: t.Name, Language: t.Language, Parameters: []string{templateParam(name), templateParam(c.Title)}}
			} else {
				// No template of the site's own: the tenant's lead template.
				t, err := campaign.Resolve(ctx, q, seq.TenantID, site.WhatsAppChannelID, campaign.LeadWhatsAppStep,
					map[string]string{"first_name": templateParam(name), "title": templateParam(c.Title)}, conv.Language)
				if skip, ok := errors.AsType[*campaign.Skip](err); ok {
					s.Log.WarnContext(ctx, "lead step outside the 24-hour window and no template for it; skipped", "tenant_id", seq.TenantID,
						"conversation_id", conv.ID, "sequence_id", seq.ID, "reason", skip.Code)
					return s.recordIn(ctx, q, seq, step, parley.StepSkipped, "outside the 24-hour window and no WhatsApp template: "+skip.Message, nil)
				} else if err != nil {
					return err
				}
				msg.Template = t
			}
			msg.Content = c.Message
			how = "template " + msg.Template.Name + " (outside the 24-hour window)"
		}
		if err := s.recordIn(ctx, q, seq, step, parley.StepSent, "queued as "+how, map[string]any{"conversation_id": conv.ID, "to": seq.Phone}); err != nil {
			return err
		}
		_, err = s.Outbox.Queue(ctx, q, conv, msg)
		return err
	})
}

func (s *Service) openConversation(ctx context.Context, q *store.Queries, seq parley.Sequence, site parley.Site) (parley.Conversation, error) {
	t, err := q.GetTenant(ctx, seq.TenantID)
	if err != nil {
		return parley.Conversation{}, err
	}
	c := parley.Conversation{TenantID: seq.TenantID, Kind: parley.KindCustomer, ContactPhone: seq.Phone, ChannelID: site.WhatsAppChannelID, Language: t.DefaultLanguage}
	if cust, err := q.CustomerByPhone(ctx, seq.TenantID, seq.Phone); err == nil {
		c.CustomerID = cust.ID
		if cust.Language != "" {
			c.Language = cust.Language
		}
	}
	return q.CreateConversation(ctx, c)
}

// templateParam fits text into a template parameter: WhatsApp refuses new
// lines, tabs and runs of spaces there.
func templateParam(s string) string {
	return cutAtWord(strings.Join(strings.Fields(s), " "), 200)
}

// visitorMessage stores the step's in-app notification or web banner.
func (s *Service) visitorMessage(ctx context.Context, seq parley.Sequence, step parley.SequenceStep, c parley.LeadContent) error {
	if seq.VisitorID == "" {
		return s.record(ctx, seq, step, parley.StepSkipped, "no visitor to show it to", nil)
	}
	return s.Store.InTx(ctx, func(q *store.Queries) error {
		m, err := q.CreateVisitorMessage(ctx, parley.VisitorMessage{TenantID: seq.TenantID, SiteID: seq.SiteID, VisitorID: seq.VisitorID,
			LeadID: seq.LeadID, SequenceID: seq.ID, Kind: step.Channel, Title: c.Title, Message: c.Message})
		if err != nil {
			return err
		}
		what := "notification stored"
		if step.Channel == parley.LeadChannelWeb {
			what = "banner shown"
		}
		return s.recordIn(ctx, q, seq, step, parley.StepSent, what+" for visitor "+seq.VisitorID, map[string]any{"visitor_message_id": m.ID})
	})
}

// record finishes a step in its own transaction.
func (s *Service) record(ctx context.Context, seq parley.Sequence, step parley.SequenceStep, status, detail string, payload map[string]any) error {
	return s.Store.InTx(ctx, func(q *store.Queries) error {
		return s.recordIn(ctx, q, seq, step, status, detail, payload)
	})
}

// recordIn finishes a step, logs it on the lead, and completes the
// sequence after its last step. errStepDone means another attempt won.
func (s *Service) recordIn(ctx context.Context, q *store.Queries, seq parley.Sequence, step parley.SequenceStep, status, detail string, payload map[string]any) error {
	ok, err := q.FinishStep(ctx, seq.TenantID, step.ID, status, detail)
	if err != nil {
		return err
	}
	if !ok {
		return errStepDone
	}
	if payload == nil {
		payload = map[string]any{}
	}
	payload["step_id"], payload["position"], payload["channel"], payload["detail"] = step.ID, step.Position, step.Channel, detail
	name := map[string]string{parley.StepSent: EventStepSent, parley.StepSkipped: EventStepSkipped, parley.StepFailed: EventStepFailed}[status]
	if _, err := q.AppendLeadEvent(ctx, seq.TenantID, seq.LeadID, seq.ID, name, payload); err != nil {
		return err
	}
	if step.Position < len(seq.Steps)-1 {
		return nil
	}
	ended, err := q.EndSequence(ctx, seq.TenantID, seq.ID, parley.SequenceCompleted, "all steps run")
	if err != nil || !ended {
		return err
	}
	_, err = q.AppendLeadEvent(ctx, seq.TenantID, seq.LeadID, seq.ID, EventSequenceCompleted, map[string]any{"steps": len(seq.Steps)})
	if err != nil {
		return fmt.Errorf("log sequence completed: %w", err)
	}
	return nil
}

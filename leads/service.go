package leads

import (
	"context"
	"errors"
	"log/slog"
	"net/mail"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/email"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/phone"
	"github.com/parleyhq/parley/store"
)

// Service writes lead sequences and delivers them.
type Service struct {
	Store *store.Store
	// LLM writes the content; nil runs the offline composer.
	LLM    *llm.Client
	Jobs   *jobs.Inserter
	Outbox *channel.Outbox
	Mailer email.Mailer
	Clock  clock.Clock
	Log    *slog.Logger
}

// Result is the follow-up call's data.
type Result struct {
	Messages   map[string]parley.LeadContent `json:"messages"`
	Lead       LeadView                      `json:"lead"`
	CommandIDs CommandIDs                    `json:"command_ids"`
	// Sequence is set when the request asked for delivery ("schedule": true).
	Sequence *parley.Sequence `json:"sequence,omitempty"`
	// Channels says, for every channel, whether content was written and
	// whether a sequence can deliver it, with the reason when not. It is
	// added to the contract's answer, so nothing is left out silently.
	Channels []ChannelReport `json:"channels"`
	// Schedule is the spacing a sequence uses and how followUpInterval
	// was read (added to the contract's answer).
	Schedule Schedule `json:"follow_up_schedule"`
}

// CommandIDs names the command of each phase; Copywriter is null when
// phase 2 did not run.
type CommandIDs struct {
	Sales      string  `json:"sales"`
	Copywriter *string `json:"copywriter"`
}

// Lead event names.
const (
	EventContentWritten    = "follow_up_generated"
	EventSequenceScheduled = "sequence_scheduled"
	EventStepSent          = "sequence_step_sent"
	EventStepSkipped       = "sequence_step_skipped"
	EventStepFailed        = "sequence_step_failed"
	EventSequenceCompleted = "sequence_completed"
	EventSequenceStopped   = "sequence_stopped"
	EventSequenceCancelled = "sequence_cancelled"
	EventLeadReplied       = "lead_replied"
)

// FollowUp runs the follow-up call for a tenant: look up the site, lead,
// representative and personas; choose the channels; run phase 1 and, when
// the site has an active copywriter, phase 2; and, when asked, schedule
// the sequence. Every failure is an *Error with the contract's code.
func (s *Service) FollowUp(ctx context.Context, tenant parley.Tenant, r Request) (*Result, error) {
	log := s.Log.With("tenant_id", tenant.ID, "lead_id", r.LeadID, "site_id", r.SiteID)
	site, err := s.Store.GetSite(ctx, tenant.ID, r.SiteID)
	if err != nil {
		return nil, notFoundAs(err, CodeSiteNotFound, "site not found")
	}
	lead, err := s.Store.GetLead(ctx, tenant.ID, r.LeadID)
	if err == nil && lead.SiteID != site.ID {
		err = parley.ErrNotFound
	}
	if err != nil {
		return nil, notFoundAs(err, CodeLeadNotFound, "lead not found on this site")
	}
	visitorID := r.VisitorID
	if visitorID != "" {
		v, err := s.Store.GetVisitor(ctx, tenant.ID, visitorID)
		if err == nil && v.SiteID != site.ID {
			err = parley.ErrNotFound
		}
		if err != nil {
			return nil, notFoundAs(err, CodeVisitorNotFound, "visitor not found on this site")
		}
	} else {
		visitorID = lead.VisitorID
	}
	var rep *Rep
	if r.UserID != "" {
		u, err := s.Store.GetSiteUser(ctx, tenant.ID, r.UserID)
		if err == nil && u.SiteID != site.ID {
			err = parley.ErrNotFound
		}
		if err != nil {
			return nil, notFoundAs(err, CodeAgentNotFound, "sales representative (userId) not found on this site")
		}
		rep = &Rep{Name: u.Name, Email: u.Email}
	}
	sales, err := s.salesAgent(ctx, tenant.ID, site.ID, r)
	if err != nil {
		return nil, err
	}

	b := brief{Lead: merge(lead, site, r), Rep: rep, FollowUpType: r.FollowUpType, FollowUpInterval: r.FollowUpInterval, VisitorID: visitorID}
	notWritten, err := s.channels(ctx, tenant.ID, site, &b)
	if err != nil {
		return nil, err
	}
	channels := b.Channels
	schedule := ReadSchedule(r.FollowUpInterval)
	// Deliverability is decided before anything is written, so a sequence
	// that could deliver nothing costs no model call and stores nothing.
	reports, err := s.plan(ctx, s.Store, tenant.ID, site, b, channels, notWritten, schedule.duration())
	if err != nil {
		return nil, asError(err)
	}
	if r.Schedule && !anyDeliverable(reports) {
		return nil, fail(CodeNoValidChannels, undeliverable(reports))
	}

	salesCmd, content, err := s.phaseOne(ctx, tenant, site, sales, b)
	if err != nil {
		log.WarnContext(ctx, "lead sequence phase 1 failed", "err", err)
		return nil, err
	}
	res := &Result{Messages: content, Lead: b.Lead, CommandIDs: CommandIDs{Sales: salesCmd.ID}, Channels: reports, Schedule: schedule}
	final := salesCmd.ID // the command whose output is the content answered

	if s.LLM != nil {
		copywriter, err := s.Store.ActiveSiteAgent(ctx, tenant.ID, site.ID, parley.PersonaCopywriter, sales.UserID)
		switch {
		case err == nil:
			cmd, refined, err := s.phaseTwo(ctx, tenant, site, copywriter, b, content)
			id := cmd.ID
			res.CommandIDs.Copywriter = &id
			if err != nil {
				// Phase 2 polishes what phase 1 already made usable: its
				// failure is recorded on its command, and phase 1's content stands.
				log.WarnContext(ctx, "copywriter phase failed; answering with the sales draft", "command_id", id, "err", err)
			} else {
				res.Messages, final = refined, id
			}
		case parley.ErrorCode(err) != parley.CodeNotFound:
			return nil, asError(err)
		}
	}

	err = s.Store.InTx(ctx, func(q *store.Queries) error {
		if _, err := q.AppendLeadEvent(ctx, tenant.ID, lead.ID, "", EventContentWritten, map[string]any{
			"command_ids": res.CommandIDs, "final_command_id": final, "channels": channels,
		}); err != nil {
			return err
		}
		if !r.Schedule {
			return nil
		}
		seq, planned, err := s.startSequence(ctx, q, tenant.ID, site, lead.ID, final, b, res.Messages, notWritten, schedule)
		if err != nil {
			return err
		}
		res.Sequence, res.Channels = &seq, planned
		return nil
	})
	if err != nil {
		var pe *parley.Error
		if errors.As(err, &pe) && pe.Code == codeNoValidChannels {
			return nil, fail(CodeNoValidChannels, pe.Message)
		}
		return nil, asError(err)
	}
	log.InfoContext(ctx, "lead sequence written", "sales_command_id", res.CommandIDs.Sales, "channels", channels, "scheduled", r.Schedule)
	return res, nil
}

// salesAgent picks the phase-1 persona: the named agent, else the user's
// or the site's active Sales/CRM Specialist. Without one the call is
// AGENT_NOT_FOUND, offline too: the composer writes as that persona.
func (s *Service) salesAgent(ctx context.Context, tenantID, siteID string, r Request) (*parley.LeadPersona, error) {
	if r.AgentID != "" {
		a, err := s.Store.GetSiteAgent(ctx, tenantID, r.AgentID)
		if err == nil && (a.SiteID != siteID || a.Role != parley.PersonaSales) {
			err = parley.ErrNotFound
		}
		if err != nil {
			return nil, notFoundAs(err, CodeAgentNotFound, "agent not found: agent_id must name a sales agent of this site")
		}
		return &a, nil
	}
	a, err := s.Store.ActiveSiteAgent(ctx, tenantID, siteID, parley.PersonaSales, r.UserID)
	if err != nil {
		return nil, notFoundAs(err, CodeAgentNotFound, "the site has no active sales agent")
	}
	return &a, nil
}

// channels chooses what to write for: e-mail when the lead has an address
// and the site a sender, WhatsApp when the lead has a phone number (7+
// digits, as the request's phone_number) and the site a channel;
// notification and web always. notWritten says why a channel was left
// out. The lead's number is read in the country of the site's WhatsApp
// line; when it cannot be used, WhatsApp is still written (the contract
// writes it for a lead with a phone number) and b.WhatsAppWhy says why a
// sequence cannot deliver it.
func (s *Service) channels(ctx context.Context, tenantID string, site parley.Site, b *brief) (notWritten map[string]string, err error) {
	hasEmail := site.Email != nil && site.Email.Host != "" && site.Email.FromAddress != ""
	var wa *parley.Channel
	if site.WhatsAppChannelID != "" {
		ch, err := s.Store.GetChannel(ctx, tenantID, site.WhatsAppChannelID)
		if err != nil && parley.ErrorCode(err) != parley.CodeNotFound {
			return nil, asError(err)
		}
		if err == nil {
			wa = &ch
		}
	}
	if !hasEmail && wa == nil {
		return nil, fail(CodeNoChannelsConfigured, "the site has no e-mail sender and no WhatsApp channel configured")
	}
	notWritten = map[string]string{}
	switch {
	case !hasEmail:
		notWritten[parley.LeadChannelEmail] = "the site has no e-mail sender"
	case !validEmail(b.Lead.Email):
		notWritten[parley.LeadChannelEmail] = "the lead has no valid e-mail address"
	default:
		b.Channels = append(b.Channels, parley.LeadChannelEmail)
	}
	switch {
	case wa == nil:
		notWritten[parley.LeadChannelWhatsApp] = "the site has no WhatsApp channel"
	case !validPhoneNumber(b.Lead.Phone):
		notWritten[parley.LeadChannelWhatsApp] = "the lead has no phone number with at least 7 digits"
	default:
		b.Channels = append(b.Channels, parley.LeadChannelWhatsApp)
		b.WhatsAppTo, b.WhatsAppWhy = whatsAppNumber(b.Lead.Phone, phone.Region(wa.DisplayNumber))
	}
	if len(b.Channels) == 0 {
		return nil, fail(CodeNoValidChannelsLead, "the lead's contact details match none of the site's channels ("+
			notWritten[parley.LeadChannelEmail]+"; "+notWritten[parley.LeadChannelWhatsApp]+")")
	}
	b.Channels = append(b.Channels, parley.LeadChannelNotification, parley.LeadChannelWeb)
	return notWritten, nil
}

func validEmail(s string) bool {
	if strings.TrimSpace(s) == "" {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == strings.TrimSpace(s)
}

// notFoundAs maps a store not-found to the call's code; other errors are
// system errors.
func notFoundAs(err error, code, message string) error {
	if parley.ErrorCode(err) == parley.CodeNotFound {
		return fail(code, message)
	}
	return asError(err)
}

package leads

import (
	"context"
	"errors"
	"log/slog"
	"net/mail"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/flow"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/store"
)

// Service writes lead follow-ups and delivers them.
type Service struct {
	Store *store.Store
	// LLM writes the content; nil runs the offline composer.
	LLM    *llm.Client
	Jobs   *jobs.Inserter
	Outbox *flow.Outbox
	Mailer Mailer
	Clock  clock.Clock
	Log    *slog.Logger
}

// Result is the follow-up call's data.
type Result struct {
	Messages   map[string]parley.FollowUpContent `json:"messages"`
	Lead       LeadView                          `json:"lead"`
	CommandIDs CommandIDs                        `json:"command_ids"`
	// Sequence is set when the request asked for delivery ("schedule": true).
	Sequence *parley.Sequence `json:"sequence,omitempty"`
}

// CommandIDs names the command of each phase; Copywriter is null when
// phase 2 did not run.
type CommandIDs struct {
	Sales      string  `json:"sales"`
	Copywriter *string `json:"copywriter"`
}

// Lead event names.
const (
	EventFollowUpGenerated = "follow_up_generated"
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

	view := merge(lead, site, r)
	channels, whatsAppTo, err := s.channels(ctx, tenant.ID, site, view)
	if err != nil {
		return nil, err
	}
	b := brief{Lead: view, Rep: rep, FollowUpType: r.FollowUpType, FollowUpInterval: r.FollowUpInterval,
		Channels: channels, VisitorID: visitorID, WhatsAppTo: whatsAppTo}

	salesCmd, content, err := s.phaseOne(ctx, tenant, site, sales, b)
	if err != nil {
		log.WarnContext(ctx, "lead follow-up phase 1 failed", "err", err)
		return nil, err
	}
	res := &Result{Messages: content, Lead: view, CommandIDs: CommandIDs{Sales: salesCmd.ID}}
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
		if _, err := q.AppendLeadEvent(ctx, tenant.ID, lead.ID, "", EventFollowUpGenerated, map[string]any{
			"command_ids": res.CommandIDs, "final_command_id": final, "channels": channels,
		}); err != nil {
			return err
		}
		if !r.Schedule {
			return nil
		}
		interval := r.FollowUpInterval
		if interval == "" {
			interval = DefaultInterval
		}
		seq, err := s.startSequence(ctx, q, tenant.ID, site, lead.ID, final, b, res.Messages, interval)
		if err != nil {
			return err
		}
		res.Sequence = &seq
		return nil
	})
	if err != nil {
		var pe *parley.Error
		if errors.As(err, &pe) && pe.Code == codeNoValidChannels {
			return nil, fail(CodeNoValidChannels, pe.Message)
		}
		return nil, asError(err)
	}
	log.InfoContext(ctx, "lead follow-up written", "sales_command_id", res.CommandIDs.Sales, "channels", channels, "scheduled", r.Schedule)
	return res, nil
}

// salesAgent picks the phase-1 persona: the named agent, else the user's
// or the site's active Sales/CRM Specialist. Offline, a site without one
// still gets the composer.
func (s *Service) salesAgent(ctx context.Context, tenantID, siteID string, r Request) (*parley.SiteAgent, error) {
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

// channels chooses where the lead can be reached: e-mail when the lead has
// an address and the site a sender, WhatsApp when the lead has a number
// and the site a channel; notification and web always.
func (s *Service) channels(ctx context.Context, tenantID string, site parley.Site, lead LeadView) ([]string, string, error) {
	hasEmail := site.Email != nil && site.Email.Host != "" && site.Email.FromAddress != ""
	hasWhatsApp := false
	if site.WhatsAppChannelID != "" {
		_, err := s.Store.GetChannel(ctx, tenantID, site.WhatsAppChannelID)
		if err != nil && parley.ErrorCode(err) != parley.CodeNotFound {
			return nil, "", asError(err)
		}
		hasWhatsApp = err == nil
	}
	if !hasEmail && !hasWhatsApp {
		return nil, "", fail(CodeNoChannelsConfigured, "the site has no e-mail sender and no WhatsApp channel configured")
	}
	var out []string
	if hasEmail && validEmail(lead.Email) {
		out = append(out, parley.LeadChannelEmail)
	}
	to := whatsAppNumber(lead.Phone)
	if hasWhatsApp && to != "" {
		out = append(out, parley.LeadChannelWhatsApp)
	}
	if len(out) == 0 {
		return nil, "", fail(CodeNoValidChannelsLead, "the lead's contact details match none of the site's channels (e-mail address for e-mail, phone number for WhatsApp)")
	}
	if !hasWhatsApp {
		to = ""
	}
	return append(out, parley.LeadChannelNotification, parley.LeadChannelWeb), to, nil
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

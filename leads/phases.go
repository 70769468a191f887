package leads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/llm"
)

// phaseOne is the Sales/CRM Specialist's command: strategy and content for
// every channel, from the model or, offline, from the composer.
func (s *Service) phaseOne(ctx context.Context, tenant parley.Tenant, site parley.Site, agent *parley.LeadPersona, b brief) (parley.LeadCommand, map[string]parley.LeadContent, error) {
	cmd, err := s.startCommand(ctx, tenant.ID, site.ID, agent, KindSales, b)
	if err != nil {
		return cmd, nil, asError(err)
	}
	if s.LLM == nil {
		content := compose(b)
		if probs := problems(content, b.Channels); fatal(probs) {
			// The composer strips placeholder characters; this guards the guard.
			s.finishCommand(ctx, &cmd, parley.LeadCommandFailed, map[string]any{"messages": content, "problems": probs}, "composer output unfit: "+strings.Join(probs, "; "), 0)
			return cmd, nil, fail(CodeNoContentGenerated, "the composer produced no usable content")
		}
		content = tidy(content, b.Channels)
		s.finishCommand(ctx, &cmd, parley.LeadCommandCompleted, map[string]any{"messages": content}, "", 0)
		return cmd, content, nil
	}

	req := llm.Request{
		System:   systemPrompt(salesRole, agent, tenant.DefaultLanguage),
		Messages: []llm.Message{{Role: llm.RoleUser, Content: "Write the follow-up for this lead.\n\n" + b.text()}},
		Schema:   contentSchema(SchemaSales, b.Channels, true),
	}
	out, probs, attempts, err := generate(parley.WithTenant(ctx, tenant.ID), s.LLM, req)
	if err != nil {
		s.finishCommand(ctx, &cmd, parley.LeadCommandFailed, nil, err.Error(), attempts)
		return cmd, nil, &Error{Code: CodeSalesCommandFailed, Message: "the sales agent could not write the follow-up: " + llmReason(err), Err: err}
	}
	if fatal(probs) {
		s.finishCommand(ctx, &cmd, parley.LeadCommandFailed, map[string]any{"messages": out, "problems": probs}, "no usable content after one regeneration", attempts)
		return cmd, nil, &Error{Code: CodeNoContentGenerated, Message: "the sales agent generated no usable follow-up content (" + strings.Join(probs, "; ") + ")"}
	}
	content := tidy(out, b.Channels)
	s.finishCommand(ctx, &cmd, parley.LeadCommandCompleted, map[string]any{"messages": content}, "", attempts)
	return cmd, content, nil
}

// phaseTwo is the Copywriter's command: it rewrites the draft's titles and
// messages; the strategy stays the sales specialist's.
func (s *Service) phaseTwo(ctx context.Context, tenant parley.Tenant, site parley.Site, agent parley.LeadPersona, b brief, draft map[string]parley.LeadContent) (parley.LeadCommand, map[string]parley.LeadContent, error) {
	cmd, err := s.startCommand(ctx, tenant.ID, site.ID, &agent, KindCopywriter, b)
	if err != nil {
		return cmd, nil, err
	}
	raw, _ := json.MarshalIndent(map[string]any{"messages": draft}, "", "  ")
	req := llm.Request{
		System: systemPrompt(copywriterRole, &agent, tenant.DefaultLanguage),
		Messages: []llm.Message{{Role: llm.RoleUser, Content: "Refine this follow-up.\n\n" + b.text() +
			"\nDRAFT FROM THE SALES SPECIALIST\n" + string(raw)}},
		Schema: contentSchema(SchemaCopywriter, b.Channels, false),
	}
	out, probs, attempts, err := generate(parley.WithTenant(ctx, tenant.ID), s.LLM, req)
	if err != nil {
		s.finishCommand(ctx, &cmd, parley.LeadCommandFailed, nil, err.Error(), attempts)
		return cmd, nil, err
	}
	if fatal(probs) {
		s.finishCommand(ctx, &cmd, parley.LeadCommandFailed, map[string]any{"messages": out, "problems": probs}, "no usable content after one regeneration", attempts)
		return cmd, nil, fmt.Errorf("copywriter output unfit: %s", strings.Join(probs, "; "))
	}
	refined := make(map[string]parley.LeadContent, len(out))
	for ch, c := range out {
		c.Strategy = draft[ch].Strategy
		refined[ch] = c
	}
	refined = tidy(refined, b.Channels)
	s.finishCommand(ctx, &cmd, parley.LeadCommandCompleted, map[string]any{"messages": refined}, "", attempts)
	return cmd, refined, nil
}

func (s *Service) startCommand(ctx context.Context, tenantID, siteID string, agent *parley.LeadPersona, kind string, b brief) (parley.LeadCommand, error) {
	mode := parley.LeadModeOffline
	if s.LLM != nil {
		mode = parley.LeadModeLLM
	}
	c := parley.LeadCommand{TenantID: tenantID, SiteID: siteID, LeadID: b.Lead.ID, Kind: kind, Mode: mode, Input: b.asMap()}
	if agent != nil {
		c.AgentID = agent.ID
		c.Input["agent"] = map[string]any{"id": agent.ID, "name": agent.Name, "role": agent.Role}
	}
	return s.Store.CreateCommand(ctx, c)
}

// finishCommand records the outcome even when the caller has gone away:
// the command row must not stay "running".
func (s *Service) finishCommand(ctx context.Context, c *parley.LeadCommand, status string, output map[string]any, errText string, attempts int) {
	c.Status, c.Output, c.Error, c.Attempts = status, output, errText, attempts
	done, err := s.Store.FinishCommand(context.WithoutCancel(ctx), *c)
	if err != nil {
		s.Log.ErrorContext(ctx, "could not record command outcome", "command_id", c.ID, "tenant_id", c.TenantID, "err", err)
		return
	}
	*c = done
}

// llmReason says in a few words why the model call failed, without
// internals.
func llmReason(err error) string {
	switch {
	case errors.Is(err, llm.ErrUnavailable):
		return "the language model is unavailable"
	case errors.Is(err, llm.ErrInvalidOutput):
		return "the language model answered with unusable output"
	case errors.Is(err, llm.ErrPermanent):
		return "the language model refused the request"
	}
	return "the language model call failed"
}

package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/email"
	"github.com/parleyhq/parley/channel/instagram"
	"github.com/parleyhq/parley/channel/twilio"
	"github.com/parleyhq/parley/channel/whatsapp"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/conversation"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/knowledge"
	"github.com/parleyhq/parley/leads"
	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/netguard"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/usage"
)

// The constructors New calls, in its order: each returns a complete part.

// openStore opens the database, migrates it and reads whether any tenant
// has a webhook subscription.
func openStore(ctx context.Context, cfg config.Config, clk clock.Clock, log *slog.Logger) (*store.Store, error) {
	st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{Clock: clk, MaxConns: cfg.DatabaseMaxConns, EventOutbox: cfg.EventsURL != ""})
	if err != nil {
		return nil, err
	}
	applied, err := st.Migrate(ctx)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if len(applied) > 0 {
		log.Info("database migrated", "engine", st.Engine(), "applied", applied)
	}
	if err := st.RefreshWebhooksActive(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("read webhook subscriptions: %w", err)
	}
	return st, nil
}

// newLLM is the one OpenAI-compatible client every feature asks (nil
// without PARLEY_LLM_* settings: the features answer offline). A server
// asking to wait more than 10 s ends the call, so a job is rescheduled
// rather than holding a worker.
func newLLM(cfg config.Config, clk clock.Clock, log *slog.Logger, meter *usage.Meter) (*llm.Client, error) {
	if !cfg.LLMConfigured() {
		return nil, nil
	}
	c, err := llm.New(llm.Config{BaseURL: cfg.LLMBaseURL, APIKey: cfg.LLMAPIKey, Model: cfg.LLMModel,
		Timeout: cfg.LLMTimeout, Logger: log, Clock: clk, MaxWait: 10 * time.Second, Meter: meter})
	if err != nil {
		return nil, fmt.Errorf("llm: %w", err)
	}
	return c, nil
}

// newGraph builds the WhatsApp Cloud API client from the configuration.
func newGraph(cfg config.Config, hc *http.Client) (*whatsapp.Client, error) {
	return whatsapp.NewClient(whatsapp.Config{
		BaseURL:    cfg.WhatsAppGraphURL,
		APIVersion: cfg.WhatsAppAPIVersion,
		HTTPClient: hc,
		RateLimit:  float64(cfg.WhatsAppRateLimit),
	})
}

// newProviders is one channel.Provider per outside system, by the channel
// type it serves: the gateway mounts their webhooks and the send stage
// sends through them.
func newProviders(cfg config.Config, st *store.Store, graph *whatsapp.Client, hc *http.Client, clk clock.Clock, log *slog.Logger) map[parley.ChannelType]channel.Provider {
	return map[parley.ChannelType]channel.Provider{
		// One Meta app signs WhatsApp's and Instagram's webhooks.
		parley.ChannelInstagram: &instagram.Provider{
			Client:    &instagram.Client{BaseURL: cfg.InstagramGraphURL, APIVersion: cfg.WhatsAppAPIVersion, HTTP: hc},
			AppSecret: cfg.WhatsAppAppSecret, VerifyToken: cfg.WhatsAppVerifyToken, Clock: clk, Log: log},
		parley.ChannelWhatsApp: &whatsapp.Provider{Client: graph, AppSecret: cfg.WhatsAppAppSecret, VerifyToken: cfg.WhatsAppVerifyToken, Log: log},
		parley.ChannelTwilio: &twilio.Provider{Client: &twilio.Client{BaseURL: cfg.TwilioBaseURL, HTTP: hc}, Channels: st,
			PublicURL: cfg.PublicURL, Log: log},
	}
}

// newConversation builds the conversation flow: the router, the AI agent
// (offline when model is nil) and tickets.
func newConversation(cfg config.Config, st *store.Store, ins *jobs.Inserter, outbox *channel.Outbox, model *llm.Client,
	tools *conversation.Tools, onCustomer func(context.Context, *store.Queries, parley.Conversation, parley.Message) error,
	intercept func(context.Context, *store.Queries, parley.Conversation, parley.Message) (bool, error), log *slog.Logger) *conversation.Service {
	s := &conversation.Service{
		Jobs: ins, Outbox: outbox, Log: log, Store: st, Knowledge: knowledge.New(), Tools: tools,
		OnCustomerMessage: onCustomer, Intercept: intercept,
		// Three attempts of one LLM call, each with its timeout, bound an answer.
		AnswerBudget: 3 * cfg.LLMTimeout,
	}
	// The answer must end well before its lease could be taken as lost.
	if limit := cfg.JobRescueAfter / 2; s.AnswerBudget > limit {
		s.AnswerBudget = limit
	}
	s.LLM = model
	return s
}

// newLeads builds the lead sequences. A tenant names its SMTP host: only
// public addresses on mail ports, or the operator's PARLEY_OUTBOUND_ALLOW
// ranges.
func newLeads(cfg config.Config, st *store.Store, ins *jobs.Inserter, outbox *channel.Outbox, model *llm.Client, clk clock.Clock, log *slog.Logger) *leads.Service {
	log = log.With("component", "leads")
	svc := &leads.Service{Store: st, Jobs: ins, Outbox: outbox, Clock: clk,
		Mailer: email.SMTPMailer{Guard: netguard.New(cfg.OutboundAllow, netguard.SMTPPorts), Log: log}, Log: log}
	svc.LLM = model
	return svc
}

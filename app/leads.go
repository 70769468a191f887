package app

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/email"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/leads"
	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/netguard"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/usage"
	"github.com/parleyhq/parley/web"
)

// newLeads builds the lead follow-up service. Without an LLM endpoint it
// runs the offline composer.
//
// Its WhatsApp messages leave through an outbox of their own, on the same
// job client: a lead follow-up is not a conversation's agent message, so
// the follow-up clock's hook does not run for it.
func newLeads(cfg config.Config, st *store.Store, ins *jobs.Inserter, clk clock.Clock, hc *http.Client, log *slog.Logger, meter *usage.Meter) (*leads.Service, error) {
	outbox := &channel.Outbox{}
	svc := &leads.Service{Store: st, Jobs: ins, Outbox: outbox, Clock: clk,
		// A tenant names the SMTP host: only public addresses on mail ports,
		// or the operator's PARLEY_OUTBOUND_ALLOW ranges.
		Mailer: email.SMTPMailer{Guard: netguard.New(cfg.OutboundAllow, netguard.SMTPPorts), Log: log.With("component", "leads")},
		Log:    log.With("component", "leads")}
	if cfg.LLMConfigured() {
		c, err := llm.New(llm.Config{BaseURL: cfg.LLMBaseURL, APIKey: cfg.LLMAPIKey, Model: cfg.LLMModel, Timeout: cfg.LLMTimeout,
			HTTPClient: hc, Logger: log, Clock: clk, Meter: meter})
		if err != nil {
			return nil, fmt.Errorf("lead follow-up llm: %w", err)
		}
		svc.LLM = c
	}
	return svc, nil
}

// mountLeads adds the follow-up call, a plain handler with its own error
// body, and its OpenAPI description.
func mountLeads(w *web.Server, svc *leads.Service) {
	// Limited per tenant like the rest of /api; a 429 in the call's envelope.
	w.HandleKeyed("POST "+leads.FollowUpPath, func(k web.KeyResolver) http.Handler { return svc.FollowUpHandler(k) },
		http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(http.StatusTooManyRequests)
			_ = json.NewEncoder(rw).Encode(leads.Envelope{Error: &leads.ErrorShape{Code: "RATE_LIMITED",
				Message: "too many requests for this tenant; retry after the Retry-After seconds"}})
		}))
	leads.Document(w.API())
}

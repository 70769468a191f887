package app

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/store"
)

// wireFollowUps builds the outbox and the follow-up service, and registers
// the follow-up workers: every agent message queued through the outbox
// schedules its conversation's follow-ups.
func (a *App) wireFollowUps(cfg config.Config, st *store.Store, ins *jobs.Inserter, workers *river.Workers, reg prometheus.Registerer) error {
	if a.Outbox == nil {
		a.Outbox = &channel.Outbox{}
	}
	fu := &followup.Service{Store: st, Jobs: ins, Outbox: a.Outbox, Clock: a.clock, Log: a.log, Metrics: followup.NewMetrics(reg)}
	if cfg.LLMConfigured() {
		c, err := llm.New(llm.Config{BaseURL: cfg.LLMBaseURL, APIKey: cfg.LLMAPIKey, Model: cfg.LLMModel, Timeout: cfg.LLMTimeout, Logger: a.log, Clock: a.clock, Meter: a.Usage})
		if err != nil {
			return fmt.Errorf("llm: %w", err)
		}
		fu.LLM = c
	}
	a.Outbox.OnAgentMessage = fu.OnAgentMessage
	river.AddWorker(workers, &followup.RequestWorker{S: fu})
	river.AddWorker(workers, &followup.ScanWorker{S: fu, Grace: followup.DefaultScanGrace})
	river.AddWorker(workers, &followup.BackfillWorker{S: fu})
	a.FollowUps = fu
	return nil
}

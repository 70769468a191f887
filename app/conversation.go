package app

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/conversation"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/knowledge"
	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/usage"
)

// newConversation builds the conversation flow: the store and router, the
// AI agent (or the offline mode when no LLM is configured) and tickets.
func newConversation(cfg config.Config, st *store.Store, ins *jobs.Inserter, log *slog.Logger, clk clock.Clock, meter *usage.Meter) (*conversation.Service, error) {
	s := &conversation.Service{
		Jobs:      ins,
		Outbox:    &channel.Outbox{},
		Log:       log,
		Store:     st,
		Knowledge: knowledge.New(st.Engine()),
		Tools:     &conversation.Tools{},
		// Three attempts of one LLM call, each with its timeout, bound an answer.
		AnswerBudget: 3 * cfg.LLMTimeout,
	}
	// The job must end well before River would think its process died.
	if limit := cfg.JobRescueAfter / 2; s.AnswerBudget > limit {
		s.AnswerBudget = limit
	}
	if cfg.LLMConfigured() {
		c, err := llm.New(llm.Config{BaseURL: cfg.LLMBaseURL, APIKey: cfg.LLMAPIKey, Model: cfg.LLMModel,
			Timeout: cfg.LLMTimeout, Logger: log, Clock: clk, MaxWait: 10 * time.Second, Meter: meter})
		if err != nil {
			return nil, fmt.Errorf("llm: %w", err)
		}
		s.LLM = c
	}
	return s, nil
}

package app

import (
	"log/slog"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley/conversation"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/notify"
	"github.com/parleyhq/parley/store"
)

// newNotify builds the merchant notifications on the conversation flow: it
// shares the flow's outbox and LLM, offers the AI agent its tools and
// registers its workers.
func newNotify(st *store.Store, ins *jobs.Inserter, conv *conversation.Service, log *slog.Logger, workers *river.Workers) (*notify.Service, error) {
	n := &notify.Service{Store: st, Jobs: ins, Outbox: conv.Outbox, Conversations: conv, LLM: conv.LLM, Log: log}
	if err := n.RegisterTools(conv.Tools); err != nil {
		return nil, err
	}
	river.AddWorker(workers, n.RequestWorker())
	river.AddWorker(workers, n.DeliverWorker())
	return n, nil
}

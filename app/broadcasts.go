package app

import (
	"github.com/riverqueue/river"

	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/store"
)

// wireBroadcasts builds the broadcast service on the flow's outbox and
// registers its pacer; a customer's opt-out word is intercepted before the
// AI agent sees it.
func (a *App) wireBroadcasts(st *store.Store, ins *jobs.Inserter, workers *river.Workers) {
	b := &campaign.Broadcasts{Store: st, Jobs: ins, Outbox: a.Outbox, Clock: a.clock, Log: a.log, NextOpening: followup.NextOpening}
	river.AddWorker(workers, &campaign.PaceWorker{S: b})
	a.conversations.Intercept = b.Intercept
	a.Broadcasts = b
}

package channel

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// InboxRetention is how long processed inbox messages are kept: longer
// than Meta's redelivery window (7 days, Cloud API §2.3, see package whatsapp), so a late redelivery
// is still caught by the inbox's key. After that the messages table's own
// unique key catches it.
const InboxRetention = 8 * 24 * time.Hour

// HoldRetention is how long a message for a number whose ownership no
// tenant has proven waits for a check to succeed: as long as Meta itself
// would keep redelivering it.
const HoldRetention = 7 * 24 * time.Hour

// PruneInboxArgs is the periodic job that deletes old processed inbox
// messages.
type PruneInboxArgs struct{}

// Kind is the job's stable name.
func (PruneInboxArgs) Kind() string { return "prune_channel_inbox" }

type pruneWorker struct {
	river.WorkerDefaults[PruneInboxArgs]
	g *Gateway
}

// PruneWorker works the prune job; register it with river.AddWorker.
func (g *Gateway) PruneWorker() river.Worker[PruneInboxArgs] { return &pruneWorker{g: g} }

// PeriodicJobs are the gateway's periodic jobs, for the job client's config.
func (g *Gateway) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return PruneInboxArgs{}, nil }, nil)}
}

func (w *pruneWorker) Work(ctx context.Context, job *river.Job[PruneInboxArgs]) error {
	n, err := w.g.store.PruneInbox(ctx, w.g.store.Clock().Now().Add(-InboxRetention))
	if err != nil {
		return err
	}
	if n > 0 {
		w.g.log.InfoContext(ctx, "pruned the channel inbox", "deleted", n, "job_id", job.ID)
	}
	if _, err := w.g.releaseVerified(ctx); err != nil {
		return err
	}
	// Messages held for a number nobody proved to own do not wait forever.
	held, err := w.g.store.PruneHeld(ctx, w.g.store.Clock().Now().Add(-HoldRetention))
	if err != nil {
		return err
	}
	if held > 0 {
		w.g.Count("whatsapp", "held_expired", int(held))
		w.g.log.WarnContext(ctx, "dropped messages held for a WhatsApp number no tenant proved it owns", "deleted", held, "job_id", job.ID)
	}
	return nil
}

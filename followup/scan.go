package followup

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley/store"
)

// ScanArgs is the periodic safety net: it enqueues a Follow-Up Request for
// every conversation whose follow-up is overdue, in case its scheduled
// request was lost (a rule changed, an operator cancelled the job…).
type ScanArgs struct{}

// Kind is the job's stable name.
func (ScanArgs) Kind() string { return "follow_up_scan" }

// InsertOpts: one scan at a time is enough.
func (ScanArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Scan tuning.
const (
	// ScanInterval is how often the periodic scan runs.
	ScanInterval = time.Minute
	// DefaultScanGrace leaves a due conversation to its own scheduled
	// request for this long before the scan sends another.
	DefaultScanGrace = time.Minute
	// rescanAfter is how long a conversation the scan handed out is left
	// alone before it is handed out again.
	rescanAfter = 10 * time.Minute
	scanBatch   = 1000
)

// ScanWorker works the periodic scan.
type ScanWorker struct {
	river.WorkerDefaults[ScanArgs]
	S *Service
	// Grace is how long a due conversation is left to its own scheduled
	// request (DefaultScanGrace in the app; zero takes everything due).
	Grace time.Duration
}

// Timeout bounds one scan; a very large backlog continues on the next.
func (w *ScanWorker) Timeout(*river.Job[ScanArgs]) time.Duration { return 5 * time.Minute }

// Work enqueues requests for overdue conversations, in batches.
func (w *ScanWorker) Work(ctx context.Context, _ *river.Job[ScanArgs]) error {
	_, err := w.S.Scan(ctx, w.Grace)
	return err
}

// Scan enqueues a Follow-Up Request for each conversation due more than
// grace ago and not handed out recently. It reads the due-time index only,
// so it costs in proportion to the number due. It returns how many it enqueued.
func (s *Service) Scan(ctx context.Context, grace time.Duration) (int, error) {
	total := 0
	for {
		now := s.Clock.Now()
		var n int
		err := s.Store.InTx(ctx, func(q *store.Queries) error {
			ids, err := q.SweepFollowUpDue(ctx, now.Add(-grace), now.Add(-rescanAfter), now, scanBatch)
			if err != nil || len(ids) == 0 {
				return err
			}
			params := make([]river.InsertManyParams, len(ids))
			for i, id := range ids {
				params[i] = river.InsertManyParams{Args: RequestArgs{ID: id}}
			}
			if _, err := s.Jobs.Client().InsertManyTx(ctx, q.Tx(), params); err != nil {
				return err
			}
			n = len(ids)
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < scanBatch {
			if total > 0 {
				s.log().InfoContext(ctx, "follow-up scan enqueued overdue conversations", "count", total)
			}
			return total, nil
		}
	}
}

// PeriodicScan is the periodic job entry for the River client.
func PeriodicScan() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(ScanInterval), func() (river.JobArgs, *river.InsertOpts) {
		return ScanArgs{}, nil
	}, &river.PeriodicJobOpts{RunOnStart: true})
}

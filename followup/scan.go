package followup

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
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

// Scan decides every conversation due more than grace ago and not handed
// out recently, a batch at a time: the batch is marked handed out in one
// statement, then its conversations are decided concurrently by scanWorkers
// goroutines, without a River job each (a job's fetch and completion cost
// more than the decision). A conversation whose decision fails (the LLM or
// the database, transiently) gets a Follow-Up Request job instead, so River
// retries it with backoff; a crash mid-batch leaves the rest to the next
// scan after rescanAfter. The follow-ups are only queued: the send path
// sends them. It reads the due-time index only, so it costs in proportion
// to the number due, and returns how many it handed out.
func (s *Service) Scan(ctx context.Context, grace time.Duration) (int, error) {
	total := 0
	for {
		now := s.Clock.Now()
		ids, err := s.Store.SweepFollowUpDue(ctx, now.Add(-grace), now.Add(-rescanAfter), now, scanBatch)
		if err != nil {
			return total, err
		}
		if err := s.decideBatch(ctx, ids); err != nil {
			return total, err
		}
		total += len(ids)
		if len(ids) < scanBatch {
			if total > 0 {
				s.log().InfoContext(ctx, "follow-up scan decided overdue conversations", "count", total)
			}
			return total, nil
		}
	}
}

// scanWorkers is how many conversations of a batch are decided at once:
// enough to overlap LLM calls and PostgreSQL round trips (SQLite's
// single writer serialises the commits anyway).
const scanWorkers = 32

// decideBatch decides ids concurrently. Failures are handed to River as
// Follow-Up Requests (retried with backoff); only a failure to do that is
// returned.
func (s *Service) decideBatch(ctx context.Context, ids []string) error {
	var (
		mu     sync.Mutex
		failed []string
		wg     sync.WaitGroup
	)
	next := make(chan string)
	for range min(scanWorkers, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				if err := s.processID(ctx, id); err != nil {
					s.log().WarnContext(ctx, "follow-up decision failed; handed to a retried request", "conversation_id", id, "err", err)
					mu.Lock()
					failed = append(failed, id)
					mu.Unlock()
				}
			}
		}()
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	if len(failed) == 0 || ctx.Err() != nil {
		return ctx.Err()
	}
	params := make([]river.InsertManyParams, len(failed))
	for i, id := range failed {
		params[i] = river.InsertManyParams{Args: RequestArgs{ID: id}}
	}
	if _, err := s.Jobs.Client().InsertMany(ctx, params); err != nil {
		return fmt.Errorf("hand failed follow-up decisions to requests: %w", err)
	}
	return nil
}

// processID decides one conversation by id; one that no longer exists is
// done.
func (s *Service) processID(ctx context.Context, id string) error {
	conv, err := s.Store.Read().ConversationByID(ctx, id)
	if parley.ErrorCode(err) == parley.CodeNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	return s.Process(ctx, conv)
}

// PeriodicScan is the periodic job entry for the River client.
func PeriodicScan() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(ScanInterval), func() (river.JobArgs, *river.InsertOpts) {
		return ScanArgs{}, nil
	}, &river.PeriodicJobOpts{RunOnStart: true})
}

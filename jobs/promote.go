package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river/riverdriver"

	"github.com/parleyhq/parley/store"
)

// River makes a job scheduled for later (or waiting to be retried) available
// only when its scheduler runs: every 5 s, on the leader, and not tunable.
// In production a follow-up due at 10:00 that runs at 10:00:04 is fine. A
// test that moves a fake clock past a due time would wait those seconds each
// time, so tests promote due jobs themselves, often (app.Options).

// PromoteDue makes the scheduled and retryable jobs due by now available, in
// one transaction through River's own driver (the same statement River's
// scheduler runs, unique-key conflicts included), and reports how many.
func PromoteDue(ctx context.Context, s *store.Store, now time.Time) (int, error) {
	tx, err := s.RiverDriver().GetExecutor().Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	res, err := tx.JobSchedule(ctx, &riverdriver.JobScheduleParams{Max: 1000, Now: &now})
	if err != nil {
		return 0, fmt.Errorf("promote due jobs: %w", err)
	}
	return len(res), tx.Commit(ctx)
}

// Promoter runs PromoteDue every interval until stopped.
type Promoter struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// StartPromoter starts promoting due jobs every interval, reading the time
// from now (the clock River schedules by).
func StartPromoter(ctx context.Context, s *store.Store, now func() time.Time, every time.Duration, log *slog.Logger) *Promoter {
	ctx, cancel := context.WithCancel(ctx)
	p := &Promoter{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := PromoteDue(ctx, s, now()); err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "promoting due jobs failed", "err", err)
			}
		}
	}()
	return p
}

// Stop ends the promoter and waits for it.
func (p *Promoter) Stop() {
	if p == nil {
		return
	}
	p.cancel()
	<-p.done
}

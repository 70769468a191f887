package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river/riverdriver"

	"github.com/parleyhq/parley/store"
)

// River makes a job scheduled for later (or waiting to be retried) available
// only when its scheduler runs: every 5 s, on the leader, and not tunable.
// In production a follow-up due at 10:00 that runs at 10:00:04 is fine. A
// test that moves a fake clock past a due time would wait those seconds each
// time, so tests promote due jobs themselves, often (app.Options.PromoteDueJobs).

// PromoteBatch is the most jobs one PromoteDue moves.
const PromoteBatch = 1000

// PromoteDue makes the scheduled and retryable jobs due by now available, up
// to PromoteBatch, in one transaction through River's own driver (the same
// statement River's scheduler runs, unique-key conflicts included), and
// reports how many. The app runs it as a stage loop when asked to.
func PromoteDue(ctx context.Context, s *store.Store, now time.Time) (int, error) {
	tx, err := s.RiverDriver().GetExecutor().Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	res, err := tx.JobSchedule(ctx, &riverdriver.JobScheduleParams{Max: PromoteBatch, Now: &now})
	if err != nil {
		return 0, fmt.Errorf("promote due jobs: %w", err)
	}
	return len(res), tx.Commit(ctx)
}

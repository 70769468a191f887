package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

type laterArgs struct{}

func (laterArgs) Kind() string { return "later" }

func TestPromoteDueMovesOnlyWhatIsDue(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c, err := jobs.NewClient(s, nil, jobs.Config{})
		if err != nil {
			t.Fatal(err)
		}
		// Whole seconds: the engines keep microseconds.
		due := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		var id int64
		if err := s.InTx(ctx, func(q *store.Queries) error {
			res, err := c.InsertTx(ctx, q.Tx(), laterArgs{}, &river.InsertOpts{ScheduledAt: due})
			if err == nil {
				id = res.Job.ID
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		state := func() rivertype.JobState {
			j, err := c.JobGet(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return j.State
		}
		if n, err := jobs.PromoteDue(ctx, s, due.Add(-time.Second)); err != nil || n != 0 || state() != rivertype.JobStateScheduled {
			t.Fatalf("a second early: moved %d (%v), state %s; want 0, scheduled", n, err, state())
		}
		if n, err := jobs.PromoteDue(ctx, s, due); err != nil || n != 1 || state() != rivertype.JobStateAvailable {
			t.Fatalf("when due: moved %d (%v), state %s; want 1, available", n, err, state())
		}
		if n, err := jobs.PromoteDue(ctx, s, due.Add(time.Minute)); err != nil || n != 0 {
			t.Fatalf("again: moved %d (%v), want 0", n, err)
		}
	})
}

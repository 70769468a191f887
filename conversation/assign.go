package conversation

import (
	"context"
	"github.com/parleyhq/parley/event"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley/store"
)

// AssignInterval is how often every tenant's waiting tickets are offered
// to available agents, in case an agent became available without the API
// (a restart, a deleted agent's tickets back in the queue).
const AssignInterval = time.Minute

// AssignWorker returns the worker of the Assign Waiting Tickets job.
func (s *Service) AssignWorker() river.Worker[event.AssignWaitingTicketsArgs] {
	return &assigner{s: s}
}

// PeriodicJobs are the conversation flow's scheduled scans.
func (s *Service) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(AssignInterval),
		func() (river.JobArgs, *river.InsertOpts) { return event.AssignWaitingTicketsArgs{}, nil },
		&river.PeriodicJobOpts{ID: "assign_waiting_tickets"})}
}

type assigner struct {
	river.WorkerDefaults[event.AssignWaitingTicketsArgs]
	s *Service
}

// Work assigns one tenant's waiting tickets, or every tenant's when the
// job names none; each tenant commits on its own.
func (w *assigner) Work(ctx context.Context, job *river.Job[event.AssignWaitingTicketsArgs]) error {
	tenants := []string{job.Args.TenantID}
	if job.Args.TenantID == "" {
		var err error
		if tenants, err = w.s.Store.TenantsWithWaitingTickets(ctx); err != nil {
			return err
		}
	}
	for _, tenantID := range tenants {
		var n int
		err := w.s.Store.InTx(ctx, func(q *store.Queries) error {
			var err error
			n, err = w.s.AssignWaiting(ctx, q, tenantID)
			return err
		})
		if err != nil {
			return err
		}
		if n > 0 {
			w.s.log().InfoContext(ctx, "waiting tickets assigned", "tenant_id", tenantID, "assigned", n, "job_id", job.ID)
		}
	}
	return nil
}

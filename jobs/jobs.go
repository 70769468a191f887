// Package jobs runs Parley's durable work on River, over the store's own
// database (SQLite or PostgreSQL), so every job can be inserted in the same
// transaction as the state change that asks for it.
package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// Client is River's client over database/sql transactions, the one job
// handle the rest of Parley uses.
type Client = river.Client[*sql.Tx]

// Config tunes the job system.
type Config struct {
	Timeout     time.Duration // default limit of one attempt; a job kind may set its own
	RescueAfter time.Duration // a job still "running" this long (its process died) is retried
	Poll        time.Duration // how often to look for new jobs
	Workers     int           // jobs worked at once by this process
	MaxAttempts int           // before a job is discarded (kept, visible)
	Logger      *slog.Logger
	Periodic    []*river.PeriodicJob
	// Time, when set, is the clock River schedules by (tests move it).
	Time rivertype.TimeGenerator
}

// NewClient builds the River client for the store. Workers may be empty for
// an insert-only client (the CLI), in which case the client is never started.
func NewClient(s *store.Store, workers *river.Workers, cfg Config) (*Client, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Minute
	}
	if cfg.RescueAfter == 0 {
		cfg.RescueAfter = 5 * time.Minute
	}
	if cfg.Poll == 0 {
		cfg.Poll = 50 * time.Millisecond
	}
	if cfg.Workers == 0 {
		cfg.Workers = 50
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 25
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rc := &river.Config{
		JobTimeout:           cfg.Timeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		MaxAttempts:          cfg.MaxAttempts,
		Logger:               cfg.Logger,
		PeriodicJobs:         cfg.Periodic,
		// Neither driver here listens for notifications, so workers poll;
		// a short interval keeps the reply latency low.
		PollOnly:          true,
		FetchCooldown:     min(cfg.Poll, 20*time.Millisecond),
		FetchPollInterval: cfg.Poll,
		Workers:           workers,
		ErrorHandler:      &errorLogger{log: cfg.Logger},
		Test:              river.TestConfig{Time: cfg.Time},
		// Finished jobs are kept a day for inspection, discarded ones a week.
		CompletedJobRetentionPeriod: 24 * time.Hour,
		DiscardedJobRetentionPeriod: 7 * 24 * time.Hour,
		Middleware:                  []rivertype.Middleware{river.WorkerMiddlewareFunc(withJobTenant)},
	}
	if workers != nil {
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}}
	}
	c, err := river.NewClient(s.RiverDriver(), rc)
	if err != nil {
		return nil, fmt.Errorf("job client: %w", err)
	}
	return c, nil
}

// Permanent marks an error as not worth retrying: the job is cancelled
// (and stays visible as cancelled) instead of being tried again.
func Permanent(err error) error { return river.JobCancel(err) }

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var c *river.JobCancelError
	return errors.As(err, &c)
}

type errorLogger struct{ log *slog.Logger }

func (h *errorLogger) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.log.WarnContext(ctx, "job attempt failed", "job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt, "max_attempts", job.MaxAttempts, "err", err)
	return nil
}

func (h *errorLogger) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	h.log.ErrorContext(ctx, "job panicked", "job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt, "panic", fmt.Sprint(panicVal), "trace", trace)
	return nil
}

// Inserter lets services that are built before the River client (its
// workers among them) insert jobs in their transactions. The app sets the
// client once it exists; a service holding an unset Inserter fails loudly.
type Inserter struct {
	c *Client
}

// Set gives the inserter its client. It is called once, at wiring.
func (i *Inserter) Set(c *Client) { i.c = c }

// Client returns the client, for listing or cancelling jobs.
func (i *Inserter) Client() *Client { return i.c }

// InsertTx inserts a job in the caller's transaction.
func (i *Inserter) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	if i == nil || i.c == nil {
		return errors.New("jobs: inserter used before the job client was set")
	}
	if tx == nil {
		return errors.New("jobs: InsertTx needs a transaction (use store.InTx)")
	}
	_, err := i.c.InsertTx(ctx, tx, args, opts)
	return err
}

// withJobTenant runs a job with its args' tenant_id in the context
// (parley.WithTenant), so whatever the job spends of shared resources (LLM
// tokens) is charged to that tenant without each worker saying so.
func withJobTenant(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	var a struct {
		TenantID string `json:"tenant_id"`
	}
	if json.Unmarshal(job.EncodedArgs, &a) == nil {
		ctx = parley.WithTenant(ctx, a.TenantID)
	}
	return doInner(ctx)
}

package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/store"
)

// JobView is one background job as the API shows it.
type JobView struct {
	ID          int64      `json:"id"`
	Kind        string     `json:"kind"`
	State       string     `json:"state" doc:"available, scheduled, running, retryable, completed, cancelled or discarded"`
	Attempt     int        `json:"attempt"`
	MaxAttempts int        `json:"max_attempts"`
	LastError   string     `json:"last_error,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ScheduledAt time.Time  `json:"scheduled_at"`
	FinalizedAt *time.Time `json:"finalized_at,omitempty"`
}

type jobListInput struct {
	State  string `query:"state" enum:"available,scheduled,running,retryable,completed,cancelled,discarded,pending," doc:"Only jobs in this state"`
	Kind   string `query:"kind" maxLength:"100"`
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
	Cursor string `query:"cursor" maxLength:"32" doc:"next_cursor of the previous page"`
}

// tenantJobs selects the tenant's jobs. Every Parley job kind names its
// tenant in args.tenant_id, except the Follow-Up Request, whose payload is
// exactly {"id": conversation id} by contract: it belongs to the tenant of
// that conversation. Periodic scans that name no tenant belong to none.
//
// This SQL stays outside the store: it is a filter for River's JobList,
// which owns the job table and takes its filters as SQL fragments.
func tenantJobs(e store.Engine) string {
	arg := func(name string) string { return "json_extract(args, '$." + name + "')" }
	if e == store.Postgres {
		arg = func(name string) string { return "args->>'" + name + "'" }
	}
	return "(" + arg("tenant_id") + " = @tenant_id OR (kind = '" + followup.RequestArgs{}.Kind() + "' AND " + arg("id") +
		" IN (SELECT id FROM conversations WHERE tenant_id = @tenant_id)))"
}

func (s *Server) registerJobs() {
	huma.Register(s.api, huma.Operation{OperationID: "list-jobs", Method: http.MethodGet, Path: "/api/jobs", Summary: "The tenant's background jobs, newest first",
		Description: "Failed jobs stay visible: retryable ones will run again, discarded ones ran out of attempts, cancelled ones hit an error retrying cannot fix.",
		Tags:        []string{"Jobs"}, Security: bearer},
		func(ctx context.Context, in *jobListInput) (*bodyOut[PageOf[JobView]], error) {
			if s.jobs == nil || s.jobs.Client() == nil {
				return nil, apiError(errors.New("job client not set"))
			}
			p := river.NewJobListParams().First(in.Limit).OrderBy(river.JobListOrderByID, river.SortOrderDesc).
				Where(tenantJobs(s.store.Engine()), river.NamedArgs{"tenant_id": TenantFrom(ctx).ID})
			if in.State != "" {
				p = p.States(rivertype.JobState(in.State))
			}
			if in.Kind != "" {
				p = p.Kinds(in.Kind)
			}
			if in.Cursor != "" {
				id, err := strconv.ParseInt(in.Cursor, 10, 64)
				if err != nil {
					return nil, apiError(parley.FieldError("cursor", "is not a cursor from this list"))
				}
				p = p.Where("id < @cursor", river.NamedArgs{"cursor": id})
			}
			res, err := s.jobs.Client().JobList(ctx, p)
			if err != nil {
				return nil, apiError(err)
			}
			out := PageOf[JobView]{Items: make([]JobView, 0, len(res.Jobs))}
			for _, j := range res.Jobs {
				v := JobView{ID: j.ID, Kind: j.Kind, State: string(j.State), Attempt: j.Attempt, MaxAttempts: j.MaxAttempts,
					CreatedAt: j.CreatedAt, ScheduledAt: j.ScheduledAt, FinalizedAt: j.FinalizedAt}
				if n := len(j.Errors); n > 0 {
					v.LastError = j.Errors[n-1].Error
				}
				out.Items = append(out.Items, v)
			}
			if len(res.Jobs) == in.Limit {
				out.NextCursor = strconv.FormatInt(res.Jobs[len(res.Jobs)-1].ID, 10)
			}
			return &bodyOut[PageOf[JobView]]{Body: out}, nil
		})
}

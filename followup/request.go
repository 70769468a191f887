package followup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/flow"
	"github.com/parleyhq/parley/store"
)

// RequestArgs is the Follow-Up Request job: look at one conversation and
// send (or skip, with the reason logged) each follow-up that is due. Its
// payload is exactly {"id": "<conversation id>"}.
type RequestArgs struct {
	ID string `json:"id"`
}

// Kind is the job's stable name.
func (RequestArgs) Kind() string { return "follow_up_request" }

// InsertOpts: transient failures (the LLM, the database) retry with backoff.
func (RequestArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 10} }

// UnmarshalJSON rejects a malformed payload with a cancelling error, so the
// job is not retried: no attempt can make it readable.
func (a *RequestArgs) UnmarshalJSON(b []byte) error {
	type plain RequestArgs
	var p plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return river.JobCancel(fmt.Errorf("malformed Follow-Up Request payload: %w", err))
	}
	if !store.IsUUID(p.ID) {
		return river.JobCancel(fmt.Errorf("malformed Follow-Up Request payload: id %q is not a conversation id", p.ID))
	}
	*a = RequestArgs(p)
	return nil
}

// RequestWorker works Follow-Up Requests.
type RequestWorker struct {
	river.WorkerDefaults[RequestArgs]
	S *Service
}

// Timeout covers one LLM call with its retries.
func (w *RequestWorker) Timeout(*river.Job[RequestArgs]) time.Duration { return 3 * time.Minute }

// Work runs the request. A conversation that no longer exists ends the job.
func (w *RequestWorker) Work(ctx context.Context, job *river.Job[RequestArgs]) error {
	// A follow-up is sent by this worker as soon as it commits, not by a
	// second job (flow.Outbox.Deliver).
	ctx = flow.DeliverAfterCommit(ctx)
	conv, err := w.S.Store.Read().ConversationByID(ctx, job.Args.ID)
	if parley.ErrorCode(err) == parley.CodeNotFound {
		w.S.log().InfoContext(ctx, "follow-up request for a conversation that does not exist", "conversation_id", job.Args.ID, "job_id", job.ID)
		return nil
	}
	if err != nil {
		return err
	}
	return w.S.Process(ctx, conv)
}

// Request asks for the conversation's follow-ups to be looked at now, in
// q's transaction, and logs the request (the API's "by hand" path).
func (s *Service) Request(ctx context.Context, q *store.Queries, conv parley.Conversation, by string) (int64, error) {
	res, err := s.Jobs.Client().InsertTx(ctx, q.Tx(), RequestArgs{ID: conv.ID}, nil)
	if err != nil {
		return 0, fmt.Errorf("insert follow-up request: %w", err)
	}
	_, err = q.AppendEvent(ctx, conv.TenantID, conv.ID, EventRequest, map[string]any{"id": conv.ID, "requested_by": by, "job_id": res.Job.ID})
	return res.Job.ID, err
}

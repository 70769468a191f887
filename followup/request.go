package followup

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// RequestArgs is the Follow-Up Request job: look at one conversation and
// send (or skip, with the reason logged) each follow-up that is due. Its
// payload is the original design's FollowUpPayload, {"id": "<conversation id>"}; like
// the original design's Zod object, other keys are accepted and ignored.
type RequestArgs struct {
	ID string `json:"id"`

	// invalid is why the payload could not be read ("" when it could):
	// the worker logs it and cancels the job, as no retry can read it.
	invalid string
}

// Kind is the job's stable name.
func (RequestArgs) Kind() string { return "follow_up_request" }

// InsertOpts: transient failures (the LLM, the database) retry with backoff.
func (RequestArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 10} }

// UnmarshalJSON reads the payload leniently: unknown keys are dropped, and
// the id is taken in the form the API issues conversation ids (a UUID,
// 8-4-4-4-12 hex digits, in either case). Anything else is kept as the
// reason the job fails for good, for Work to log.
func (a *RequestArgs) UnmarshalJSON(b []byte) error {
	*a = RequestArgs{}
	var p struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		a.invalid = fmt.Sprintf("not a JSON object: %v", err)
		return nil
	}
	if len(p.ID) == 0 || string(p.ID) == "null" {
		a.invalid = `"id" is missing`
		return nil
	}
	var id string
	if err := json.Unmarshal(p.ID, &id); err != nil {
		a.invalid = fmt.Sprintf(`"id" is %s, not a string`, p.ID)
		return nil
	}
	if !store.IsUUID(id) {
		a.invalid = fmt.Sprintf(`"id" %q is not a conversation id`, id)
		return nil
	}
	a.ID = strings.ToLower(id) // ids are stored in lower case
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
	if job.Args.invalid != "" {
		err := fmt.Errorf("malformed Follow-Up Request payload: %s", job.Args.invalid)
		w.S.log().WarnContext(ctx, "follow-up request refused for good", "job_id", job.ID, "reason", job.Args.invalid, "err", err)
		return river.JobCancel(err)
	}
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
	err = q.AppendEvent(ctx, conv.TenantID, conv.ID, EventRequest, RequestPayload{ID: conv.ID, RequestedBy: by, JobID: res.Job.ID})
	return res.Job.ID, err
}

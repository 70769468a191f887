package followup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// QueuedRequest is a Follow-Up Request that arrived on an outside queue
// (SQS, NATS JetStream): the queue's id for the message and its body.
type QueuedRequest struct {
	MessageID string
	Body      []byte
}

// QueueOutcome says what became of one queued request, so the consumer
// knows whether to acknowledge it or dead-letter it.
type QueueOutcome struct {
	Outcome string // one of the Queue… constants
	Reason  string // for QueueMalformed and QueueUnknownConversation
	JobID   int64  // for QueueAccepted: the Follow-Up Request job
}

// Outcomes of a queued request. Every one but QueueMalformed is acknowledged:
// the request was taken in, had been before, or names no conversation (a
// business outcome: redelivering it would change nothing).
const (
	QueueAccepted            = "accepted"
	QueueDuplicate           = "duplicate"
	QueueUnknownConversation = "unknown_conversation"
	QueueMalformed           = "malformed"
)

// ReceiptRetention is how long a queue message's receipt is kept; SQS keeps
// a message at most 14 days, so a redelivery can come no later.
const ReceiptRetention = 15 * 24 * time.Hour

// AcceptQueued takes a batch of queued Follow-Up Requests in one
// transaction: each valid one is recorded under its message id together
// with its Follow-Up Request job, so a redelivered copy is taken in once.
// An error means nothing was recorded and the whole batch may be redelivered.
func (s *Service) AcceptQueued(ctx context.Context, source string, batch []QueuedRequest) ([]QueueOutcome, error) {
	out := make([]QueueOutcome, len(batch))
	err := s.Store.InTx(ctx, func(q *store.Queries) error {
		for i, m := range batch {
			o, err := s.acceptOne(ctx, q, source, m)
			if err != nil {
				return err
			}
			out[i] = o
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("accept queued follow-up requests: %w", err)
	}
	for i, o := range out {
		log := s.log().With("source", source, "message_id", batch[i].MessageID, "outcome", o.Outcome)
		if o.Outcome == QueueMalformed || o.Outcome == QueueUnknownConversation {
			log.WarnContext(ctx, "queued follow-up request not taken", "reason", o.Reason)
		} else {
			log.DebugContext(ctx, "queued follow-up request taken", "job_id", o.JobID)
		}
		s.Metrics.countQueued(source, o.Outcome)
	}
	return out, nil
}

func (s *Service) acceptOne(ctx context.Context, q *store.Queries, source string, m QueuedRequest) (QueueOutcome, error) {
	id, err := ParseQueuedPayload(m.Body)
	if err != nil {
		return QueueOutcome{Outcome: QueueMalformed, Reason: err.Error()}, nil
	}
	// Conversation ids are UUIDs (any case, as the API's are read): another
	// string names no conversation, and is not worth a query (nor able to
	// fail one, as a NUL byte would on PostgreSQL, taking the batch with it).
	if !store.IsUUID(strings.ToLower(id)) {
		return QueueOutcome{Outcome: QueueUnknownConversation, Reason: fmt.Sprintf("no conversation %q", id)}, nil
	}
	conv, err := q.ConversationByID(ctx, strings.ToLower(id))
	if parley.ErrorCode(err) == parley.CodeNotFound {
		return QueueOutcome{Outcome: QueueUnknownConversation, Reason: fmt.Sprintf("no conversation %q", id)}, nil
	}
	if err != nil {
		return QueueOutcome{}, err
	}
	fresh, err := q.RecordQueueReceipt(ctx, source, m.MessageID, conv.ID)
	if err != nil || !fresh {
		return QueueOutcome{Outcome: QueueDuplicate}, err
	}
	jobID, err := s.Request(ctx, q, conv, "queue:"+source)
	if err != nil {
		return QueueOutcome{}, err
	}
	return QueueOutcome{Outcome: QueueAccepted, JobID: jobID}, q.SetQueueReceiptJob(ctx, source, m.MessageID, jobID)
}

// ParseQueuedPayload reads a queued Follow-Up Request as the original design's schema
// does (z.object({id: z.string()})): a JSON object with a string id; other
// keys are ignored, as Zod strips them.
func ParseQueuedPayload(body []byte) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return "", errors.New("payload is not a JSON object")
	}
	raw, ok := obj["id"]
	if !ok {
		return "", errors.New(`payload has no "id"`)
	}
	var id string
	if err := json.Unmarshal(raw, &id); err != nil {
		return "", errors.New(`"id" is not a string`)
	}
	if id == "" {
		return "", errors.New(`"id" is empty`)
	}
	return id, nil
}

// PruneQueueReceipts forgets receipts older than ReceiptRetention.
func (s *Service) PruneQueueReceipts(ctx context.Context) (int64, error) {
	return s.Store.PruneQueueReceipts(ctx, s.Clock.Now().Add(-ReceiptRetention))
}

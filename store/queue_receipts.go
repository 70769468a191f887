package store

import (
	"context"
	"fmt"
	"time"
)

// RecordQueueReceipt notes that the queue message (source, messageID) was
// taken in for conversationID. It reports false, changing nothing, when the
// message was taken in before: the caller acknowledges it and does no more.
func (q *Queries) RecordQueueReceipt(ctx context.Context, source, messageID, conversationID string) (bool, error) {
	res, err := q.q.ExecContext(ctx, `INSERT INTO queue_receipts (source, message_id, conversation_id, received_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (source, message_id) DO NOTHING`,
		source, messageID, conversationID, micros(q.clock.Now()))
	if err != nil {
		return false, fmt.Errorf("record queue receipt: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record queue receipt: %w", err)
	}
	return n == 1, nil
}

// SetQueueReceiptJob records the job a queue message became.
func (q *Queries) SetQueueReceiptJob(ctx context.Context, source, messageID string, jobID int64) error {
	_, err := q.q.ExecContext(ctx, `UPDATE queue_receipts SET job_id = $3 WHERE source = $1 AND message_id = $2`, source, messageID, jobID)
	if err != nil {
		return fmt.Errorf("set queue receipt job: %w", err)
	}
	return nil
}

// PruneQueueReceipts deletes receipts taken before cutoff: a queue keeps a
// message at most 14 days (SQS's longest retention), so older receipts can
// no longer meet a redelivery.
func (q *Queries) PruneQueueReceipts(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := q.q.ExecContext(ctx, `DELETE FROM queue_receipts WHERE received_at < $1`, micros(cutoff))
	if err != nil {
		return 0, fmt.Errorf("prune queue receipts: %w", err)
	}
	return res.RowsAffected()
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/parleyhq/parley"
)

// Merchant notifications (package notify owns the flow; these are its rows).

const notificationCols = `id, tenant_id, number, type, status, conversation_id, document_id, requested, answered, target_type, request_type,
	answer_schema, allow_multiple, recipients, answered_by, answered_at, answers, delivered, delivered_via, created_at, updated_at`

// notificationSelect adds the answer's delivery: the message's own status
// and error follow the real send (a provider refusal shows as failed).
const notificationSelect = notificationCols + `, delivery_status, delivery_reason, delivery_message_id,
	(SELECT m.status FROM messages m WHERE m.id = notifications.delivery_message_id),
	(SELECT m.error_code FROM messages m WHERE m.id = notifications.delivery_message_id),
	(SELECT m.error_reason FROM messages m WHERE m.id = notifications.delivery_message_id)`

// NotificationRef is the prefixed id staff see for a notification number.
func NotificationRef(number int64) string { return "NOTIF_" + strconv.FormatInt(number, 10) }

func scanNotification(row interface{ Scan(...any) error }) (parley.Notification, error) {
	var n parley.Notification
	var convID, docID, answered sql.NullString
	var requested, schema, recipients string
	var answeredAt sql.NullInt64
	var created, updated int64
	var msgID, msgStatus, msgCode, msgReason sql.NullString
	if err := row.Scan(&n.ID, &n.TenantID, &n.Number, &n.Type, &n.Status, &convID, &docID, &requested, &answered, &n.TargetType, &n.RequestType,
		&schema, &n.AllowMultiple, &recipients, &n.AnsweredBy, &answeredAt, &n.Answers, &n.Delivered, &n.DeliveredVia, &created, &updated,
		&n.DeliveryStatus, &n.DeliveryReason, &msgID, &msgStatus, &msgCode, &msgReason); err != nil {
		return n, err
	}
	n.DeliveryMessageID = msgID.String
	if n.DeliveryStatus == parley.DeliveryQueued && msgStatus.Valid {
		n.DeliveryStatus = msgStatus.String
		if msgStatus.String == string(parley.StatusFailed) {
			n.DeliveryReason = strings.TrimPrefix(msgCode.String+": "+msgReason.String, ": ")
		}
	}
	n.Ref = NotificationRef(n.Number)
	n.ConversationID, n.DocumentID = convID.String, docID.String
	n.AnsweredAt, n.CreatedAt, n.UpdatedAt = fromNullMicros(answeredAt), fromMicros(created), fromMicros(updated)
	if err := decodeJSON(requested, &n.Requested); err != nil {
		return n, err
	}
	if answered.Valid {
		if err := decodeJSON(answered.String, &n.Answered); err != nil {
			return n, err
		}
	}
	if err := decodeJSON(schema, &n.AnswerSchema); err != nil {
		return n, err
	}
	if err := decodeJSON(recipients, &n.Recipients); err != nil {
		return n, err
	}
	if n.Recipients == nil {
		n.Recipients = []parley.Recipient{}
	}
	return n, nil
}

// CreateNotification stores a new notification with the tenant's next
// number. In a transaction on PostgreSQL, creations in one tenant wait for
// each other (until commit) rather than collide on the number: a burst of
// requests across replicas would otherwise retry with growing backoff
// (SQLite transactions are serial already). Outside a transaction two
// creations at once may still collide: the loser gets an error.
func (q *Queries) CreateNotification(ctx context.Context, n parley.Notification) (parley.Notification, error) {
	if q.engine == Postgres && q.tx != nil {
		if _, err := q.q.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "notification-number:"+n.TenantID); err != nil {
			return n, fmt.Errorf("lock notification numbers: %w", err)
		}
	}
	now := q.clock.Now()
	if n.ID == "" {
		n.ID = newID()
	}
	n.CreatedAt, n.UpdatedAt = now, now
	if n.Status == "" {
		n.Status = parley.NotificationRequested
	}
	if n.Recipients == nil {
		n.Recipients = []parley.Recipient{}
	}
	if err := q.q.QueryRowContext(ctx, `SELECT COALESCE(MAX(number), 0) + 1 FROM notifications WHERE tenant_id = $1`, n.TenantID).Scan(&n.Number); err != nil {
		return n, fmt.Errorf("next notification number: %w", err)
	}
	n.Ref = NotificationRef(n.Number)
	// Created answered (an answer recorded without asking the staff): the
	// answer is its first.
	var answered sql.NullString
	var answeredAt sql.NullInt64
	if n.Status == parley.NotificationAnswered {
		answered = sql.NullString{String: encodeJSON(n.Answered), Valid: true}
		answeredAt = sql.NullInt64{Int64: micros(now), Valid: true}
		n.AnsweredAt, n.Answers = &now, 1
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO notifications (`+notificationCols+`) VALUES
		($1, $2, $3, $4, $5, $6, $7, $8, $15, $9, $10, $11, $12, $13, $16, $17, $18, 0, '', $14, $14)`,
		n.ID, n.TenantID, n.Number, n.Type, n.Status, nullString(n.ConversationID), nullString(n.DocumentID), encodeJSON(n.Requested),
		n.TargetType, n.RequestType, encodeJSON(n.AnswerSchema), n.AllowMultiple, encodeJSON(n.Recipients), micros(now),
		answered, n.AnsweredBy, answeredAt, n.Answers)
	if isUniqueViolation(err) {
		return n, fmt.Errorf("create notification: %w", parley.Errorf(parley.CodeConflict, "notification %s exists already", n.ID))
	}
	if err != nil {
		return n, fmt.Errorf("create notification: %w", err)
	}
	return n, nil
}

// GetNotification returns one of the tenant's notifications.
func (q *Queries) GetNotification(ctx context.Context, tenantID, id string) (parley.Notification, error) {
	n, err := scanNotification(q.q.QueryRowContext(ctx, `SELECT `+notificationSelect+` FROM notifications WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return n, rowErr(err, "notification")
}

// NotificationByNumber finds a notification by the number staff see.
func (q *Queries) NotificationByNumber(ctx context.Context, tenantID string, number int64) (parley.Notification, error) {
	n, err := scanNotification(q.q.QueryRowContext(ctx, `SELECT `+notificationSelect+` FROM notifications WHERE tenant_id = $1 AND number = $2`, tenantID, number))
	return n, rowErr(err, "notification")
}

// NotificationFilter narrows ListNotifications; empty fields match all.
type NotificationFilter struct {
	Status     parley.NotificationStatus
	Type       parley.NotificationType
	DocumentID string

	// Types matches any of these types (with Type, any of both).
	Types []parley.NotificationType
}

// ListNotifications pages through the tenant's notifications, newest first.
func (q *Queries) ListNotifications(ctx context.Context, tenantID string, f NotificationFilter, p Page) ([]parley.Notification, string, error) {
	p = p.normalize()
	var b queryBuilder
	b.add("tenant_id = ?", tenantID)
	if p.Cursor != "" {
		b.add("id < ?", p.Cursor)
	}
	if f.Status != "" {
		b.add("status = ?", f.Status)
	}
	types := f.Types
	if f.Type != "" {
		types = append([]parley.NotificationType{f.Type}, types...)
	}
	if len(types) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(types)), ", ")
		args := make([]any, len(types))
		for i, t := range types {
			args[i] = string(t)
		}
		b.add("type IN ("+marks+")", args...)
	}
	if f.DocumentID != "" {
		b.add("document_id = ?", f.DocumentID)
	}
	return page(ctx, q, p.Limit, scanNotification, func(n parley.Notification) string { return n.ID },
		`SELECT `+notificationSelect+` FROM notifications WHERE `+b.where()+` ORDER BY id DESC LIMIT `+strconv.Itoa(p.Limit+1), b.args...)
}

// SetNotificationRecipients keeps the list of staff a notification went to.
func (q *Queries) SetNotificationRecipients(ctx context.Context, tenantID, id string, rs []parley.Recipient) error {
	if rs == nil {
		rs = []parley.Recipient{}
	}
	res, err := q.q.ExecContext(ctx, `UPDATE notifications SET recipients = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2`,
		tenantID, id, encodeJSON(rs), micros(q.clock.Now()))
	return affected(res, err, "notification")
}

// ErrNotificationAnswered is returned by AnswerNotification when a
// single-answer notification has its answer already.
var ErrNotificationAnswered = &parley.Error{Code: parley.CodeAlreadyAnswered, Message: "the notification was already answered and is closed"}

// AnswerNotification records an answer. It is one conditional UPDATE, so
// of two answers to a single-answer notification arriving at once exactly
// one finds it still requested; the other gets ErrNotificationAnswered
// (on PostgreSQL the second waits on the first's row lock, then re-reads
// the row and sees it answered). It returns the notification as updated;
// its Answers count is the number of this answer.
func (q *Queries) AnswerNotification(ctx context.Context, tenantID, id string, fields map[string]string, by string) (parley.Notification, error) {
	now := q.clock.Now()
	res, err := q.q.ExecContext(ctx, `UPDATE notifications SET status = 'answered', answered = $3, answered_by = $4,
		answered_at = COALESCE(answered_at, $5), answers = answers + 1, updated_at = $5
		WHERE tenant_id = $1 AND id = $2 AND (status = 'requested' OR allow_multiple)`, tenantID, id, encodeJSON(fields), by, micros(now))
	if err != nil {
		return parley.Notification{}, fmt.Errorf("answer notification: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return parley.Notification{}, err
	} else if n == 0 {
		if _, err := q.GetNotification(ctx, tenantID, id); err != nil {
			return parley.Notification{}, err
		}
		return parley.Notification{}, ErrNotificationAnswered
	}
	return q.GetNotification(ctx, tenantID, id)
}

// NotificationDelivery is what became of one answer on its way to the
// customer: a queued message (status queued, its id) or skipped (a reason).
type NotificationDelivery struct {
	Via       string
	Status    string // parley.DeliveryQueued or parley.DeliverySkipped
	Reason    string
	MessageID string
}

// MarkNotificationDelivered records what became of answer number n, and
// how it went. It reports false when that answer was handled already (a
// retried job), changing nothing.
func (q *Queries) MarkNotificationDelivered(ctx context.Context, tenantID, id string, n int, d NotificationDelivery) (bool, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE notifications SET delivered = $3, delivered_via = $4, updated_at = $5,
		delivery_status = $6, delivery_reason = $7, delivery_message_id = $8
		WHERE tenant_id = $1 AND id = $2 AND delivered < $3`, tenantID, id, n, d.Via, micros(q.clock.Now()), d.Status, d.Reason, nullString(d.MessageID))
	if err != nil {
		return false, fmt.Errorf("mark notification delivered: %w", err)
	}
	rows, err := res.RowsAffected()
	return rows > 0, err
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley"
)

// Broadcast states.
const (
	BroadcastScheduled = "scheduled" // waiting for its time (or the hours)
	BroadcastRunning   = "running"   // batches going out
	BroadcastFinished  = "finished"  // every recipient decided
	BroadcastCancelled = "cancelled" // stopped by the tenant; pending recipients cancelled
)

// Recipient states (stored); a queued recipient's outcome is read from its
// message (RecipientOutcome).
const (
	RecipientPending   = "pending"
	RecipientQueued    = "queued"
	RecipientOptedOut  = "opted_out"
	RecipientSkipped   = "skipped"
	RecipientCancelled = "cancelled"
)

// Segment selects a tenant's customers. Empty fields select everyone.
type Segment struct {
	// ChannelID keeps customers who have a conversation on that channel.
	ChannelID string `json:"channel_id,omitempty"`
	// Tags keeps customers carrying every one of them.
	Tags []string `json:"tags,omitempty"`
	// LastContactBefore / After compare the customer's last message (any
	// conversation); a customer who never wrote counts as before any time.
	LastContactBefore *time.Time `json:"last_contact_before,omitempty"`
	LastContactAfter  *time.Time `json:"last_contact_after,omitempty"`
	// OptedIn: true keeps customers whose marketing consent is recorded,
	// false those without it; nil both.
	OptedIn *bool `json:"opted_in,omitempty"`
}

// Broadcast is one template sent to a segment.
type Broadcast struct {
	ID           string     `json:"id"`
	TenantID     string     `json:"tenant_id"`
	Name         string     `json:"name"`
	ChannelID    string     `json:"channel_id"`
	TemplateName string     `json:"template_name"`
	Language     string     `json:"language"`
	Category     string     `json:"category"`
	Parameters   []string   `json:"parameters"`
	Segment      Segment    `json:"segment"`
	RatePerSec   int        `json:"rate_per_second"`
	Status       string     `json:"status"`
	Total        int        `json:"total"`
	ScheduledAt  time.Time  `json:"scheduled_at"`
	NextSendAt   time.Time  `json:"next_send_at"`
	StartedAt    *time.Time `json:"started_at,omitempty"`
	FinishedAt   *time.Time `json:"finished_at,omitempty"`
	CancelledAt  *time.Time `json:"cancelled_at,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
}

// BroadcastRecipient is one customer of a broadcast with what became of its send.
type BroadcastRecipient struct {
	Seq            int        `json:"seq"`
	CustomerID     string     `json:"customer_id"`
	Phone          string     `json:"phone"`
	Name           string     `json:"name"`
	Language       string     `json:"-"`
	State          string     `json:"-"`
	Outcome        string     `json:"outcome"` // pending, queued, sent, delivered, read, replied, failed, opted_out, skipped, cancelled
	Reason         string     `json:"reason,omitempty"`
	ConversationID string     `json:"conversation_id,omitempty"`
	MessageID      string     `json:"message_id,omitempty"`
	QueuedAt       *time.Time `json:"queued_at,omitempty"`
	OptedOut       bool       `json:"-"` // pending but found in opt_outs (PendingRecipients)
}

// BroadcastStats counts a broadcast's recipients by outcome. Sent,
// delivered and read are cumulative (a read message was also delivered and
// sent); replied counts recipients who wrote after the broadcast.
type BroadcastStats struct {
	Total     int `json:"total"`
	Pending   int `json:"pending"`
	Queued    int `json:"queued"`
	Sent      int `json:"sent"`
	Delivered int `json:"delivered"`
	Read      int `json:"read"`
	Replied   int `json:"replied"`
	Failed    int `json:"failed"`
	OptedOut  int `json:"opted_out"`
	Skipped   int `json:"skipped"`
	Cancelled int `json:"cancelled"`
}

const broadcastCols = `id, tenant_id, name, channel_id, template_name, language, category, parameters, segment, rate_per_second,
	status, total, scheduled_at, next_send_at, started_at, finished_at, cancelled_at, created_at`

func scanBroadcast(row interface{ Scan(...any) error }) (Broadcast, error) {
	var b Broadcast
	var params, seg string
	var sched, next, created int64
	var started, finished, cancelled sql.NullInt64
	if err := row.Scan(&b.ID, &b.TenantID, &b.Name, &b.ChannelID, &b.TemplateName, &b.Language, &b.Category, &params, &seg, &b.RatePerSec,
		&b.Status, &b.Total, &sched, &next, &started, &finished, &cancelled, &created); err != nil {
		return b, err
	}
	b.ScheduledAt, b.NextSendAt, b.CreatedAt = fromMicros(sched), fromMicros(next), fromMicros(created)
	b.StartedAt, b.FinishedAt, b.CancelledAt = nullTime(started), nullTime(finished), nullTime(cancelled)
	if err := decodeJSON(params, &b.Parameters); err != nil {
		return b, err
	}
	if b.Parameters == nil {
		b.Parameters = []string{}
	}
	return b, decodeJSON(seg, &b.Segment)
}

func nullTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// segmentWhere is the SQL selecting a segment's customers (alias c), its
// arguments numbered from next.
func segmentWhere(s Segment, next int) (string, []any) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(next+len(args)-1)
	}
	if s.ChannelID != "" {
		where = append(where, `EXISTS (SELECT 1 FROM conversations v WHERE v.tenant_id = c.tenant_id AND v.contact_phone = c.phone
			AND v.kind = 'customer' AND v.channel_id = `+arg(s.ChannelID)+`)`)
	}
	for _, t := range s.Tags {
		where = append(where, `EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id AND t.tag = `+arg(t)+`)`)
	}
	last := `(SELECT COALESCE(MAX(v.last_customer_message_at), 0) FROM conversations v WHERE v.tenant_id = c.tenant_id AND v.contact_phone = c.phone)`
	if s.LastContactBefore != nil {
		where = append(where, last+` < `+arg(micros(*s.LastContactBefore)))
	}
	if s.LastContactAfter != nil {
		where = append(where, last+` > `+arg(micros(*s.LastContactAfter)))
	}
	if s.OptedIn != nil {
		in := `EXISTS (SELECT 1 FROM customer_consents k WHERE k.customer_id = c.id AND k.opted_in)`
		if !*s.OptedIn {
			in = "NOT " + in
		}
		where = append(where, in)
	}
	if len(where) == 0 {
		return "", nil
	}
	return " AND " + strings.Join(where, " AND "), args
}

// ReasonOptedOut is the reason given to a recipient who opted out.
const ReasonOptedOut = "the customer wrote an opt-out word: never sent a broadcast again"

// CountSegment counts the customers a segment selects.
func (q *Queries) CountSegment(ctx context.Context, tenantID string, s Segment) (int, error) {
	where, args := segmentWhere(s, 2)
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM customers c WHERE c.tenant_id = $1`+where, append([]any{tenantID}, args...)...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count segment: %w", err)
	}
	return n, nil
}

// CreateBroadcast stores a broadcast and takes its segment: one recipient
// row per selected customer, those who opted out already marked so.
func (q *Queries) CreateBroadcast(ctx context.Context, b Broadcast) (Broadcast, error) {
	b.ID, b.CreatedAt, b.Status = newID(), q.clock.Now(), BroadcastScheduled
	b.NextSendAt = b.ScheduledAt
	if b.Parameters == nil {
		b.Parameters = []string{}
	}
	if _, err := q.q.ExecContext(ctx, `INSERT INTO broadcasts (`+broadcastCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13, NULL, NULL, NULL, $14)`,
		b.ID, b.TenantID, b.Name, b.ChannelID, b.TemplateName, b.Language, b.Category, encodeJSON(b.Parameters), encodeJSON(b.Segment),
		b.RatePerSec, b.Status, micros(b.ScheduledAt), micros(b.NextSendAt), micros(b.CreatedAt)); err != nil {
		return b, fmt.Errorf("create broadcast: %w", err)
	}
	where, args := segmentWhere(b.Segment, 4)
	res, err := q.q.ExecContext(ctx, `INSERT INTO broadcast_recipients (broadcast_id, seq, tenant_id, customer_id, phone, name, language, state, reason)
		SELECT $1, ROW_NUMBER() OVER (ORDER BY c.id), c.tenant_id, c.id, c.phone, c.name, c.language,
			CASE WHEN o.phone IS NULL THEN 'pending' ELSE 'opted_out' END,
			CASE WHEN o.phone IS NULL THEN '' ELSE $3 END
		FROM customers c LEFT JOIN opt_outs o ON o.tenant_id = c.tenant_id AND o.phone = c.phone
		WHERE c.tenant_id = $2`+where, append([]any{b.ID, b.TenantID, ReasonOptedOut}, args...)...)
	if err != nil {
		return b, fmt.Errorf("create broadcast recipients: %w", err)
	}
	n, _ := res.RowsAffected()
	b.Total = int(n)
	if _, err := q.q.ExecContext(ctx, `UPDATE broadcasts SET total = $2 WHERE id = $1`, b.ID, b.Total); err != nil {
		return b, fmt.Errorf("create broadcast: %w", err)
	}
	return b, nil
}

// GetBroadcast returns one of the tenant's broadcasts.
func (q *Queries) GetBroadcast(ctx context.Context, tenantID, id string) (Broadcast, error) {
	b, err := scanBroadcast(q.q.QueryRowContext(ctx, `SELECT `+broadcastCols+` FROM broadcasts WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return b, rowErr(err, "broadcast")
}

// ListBroadcasts pages through the tenant's broadcasts, newest first.
func (q *Queries) ListBroadcasts(ctx context.Context, tenantID string, p Page) ([]Broadcast, string, error) {
	p = p.normalize()
	rows, err := q.q.QueryContext(ctx, `SELECT `+broadcastCols+` FROM broadcasts WHERE tenant_id = $1 AND ($2 = '' OR id < $2)
		ORDER BY id DESC LIMIT $3`, tenantID, p.Cursor, p.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list broadcasts: %w", err)
	}
	defer rows.Close()
	out := []Broadcast{}
	for rows.Next() {
		b, err := scanBroadcast(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list broadcasts: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	out, next := nextCursor(out, p.Limit, func(b Broadcast) string { return b.ID })
	return out, next, nil
}

// DueBroadcasts lists broadcasts of every tenant that may send a batch at now.
func (q *Queries) DueBroadcasts(ctx context.Context, now time.Time, limit int) ([]Broadcast, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+broadcastCols+` FROM broadcasts
		WHERE status IN ('scheduled', 'running') AND next_send_at <= $1 ORDER BY next_send_at LIMIT $2`, micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due broadcasts: %w", err)
	}
	defer rows.Close()
	var out []Broadcast
	for rows.Next() {
		b, err := scanBroadcast(rows)
		if err != nil {
			return nil, fmt.Errorf("due broadcasts: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// TakeBroadcastTurn claims the broadcast's next batch: it moves
// next_send_at from the value the caller read to next, and only one
// transaction can do that (a compare-and-swap; on PostgreSQL the row stays
// locked until the batch commits, so a cancel waits for it). False: another
// worker took the turn, or the broadcast is no longer sending.
func (q *Queries) TakeBroadcastTurn(ctx context.Context, b Broadcast, next time.Time) (bool, error) {
	now := micros(q.clock.Now())
	res, err := q.q.ExecContext(ctx, `UPDATE broadcasts SET next_send_at = $3, status = 'running', started_at = COALESCE(started_at, $4)
		WHERE id = $1 AND status IN ('scheduled', 'running') AND next_send_at = $2`, b.ID, micros(b.NextSendAt), micros(next), now)
	if err != nil {
		return false, fmt.Errorf("take broadcast turn: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// DelayBroadcast moves a broadcast's next batch to at (e.g. the next
// opening of the hours), if nobody moved it since the caller read it.
func (q *Queries) DelayBroadcast(ctx context.Context, b Broadcast, at time.Time) error {
	_, err := q.q.ExecContext(ctx, `UPDATE broadcasts SET next_send_at = $3 WHERE id = $1 AND status IN ('scheduled', 'running') AND next_send_at = $2`,
		b.ID, micros(b.NextSendAt), micros(at))
	return err
}

// PendingRecipients returns the next n pending recipients in order, each
// saying whether its phone has opted out since the segment was taken.
func (q *Queries) PendingRecipients(ctx context.Context, broadcastID string, n int) ([]BroadcastRecipient, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT r.seq, r.customer_id, r.phone, r.name, r.language, o.phone IS NOT NULL
		FROM broadcast_recipients r LEFT JOIN opt_outs o ON o.tenant_id = r.tenant_id AND o.phone = r.phone
		WHERE r.broadcast_id = $1 AND r.state = 'pending' ORDER BY r.seq LIMIT $2`, broadcastID, n)
	if err != nil {
		return nil, fmt.Errorf("pending recipients: %w", err)
	}
	defer rows.Close()
	var out []BroadcastRecipient
	for rows.Next() {
		r := BroadcastRecipient{State: RecipientPending}
		if err := rows.Scan(&r.Seq, &r.CustomerID, &r.Phone, &r.Name, &r.Language, &r.OptedOut); err != nil {
			return nil, fmt.Errorf("pending recipients: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// MarkRecipient records what was done for a pending recipient. It changes
// only a pending row: false means it was decided already.
func (q *Queries) MarkRecipient(ctx context.Context, broadcastID string, r BroadcastRecipient) (bool, error) {
	var at any
	if r.QueuedAt != nil {
		at = micros(*r.QueuedAt)
	}
	res, err := q.q.ExecContext(ctx, `UPDATE broadcast_recipients SET state = $3, reason = $4, conversation_id = $5, message_id = $6, queued_at = $7
		WHERE broadcast_id = $1 AND seq = $2 AND state = 'pending'`, broadcastID, r.Seq, r.State, r.Reason, r.ConversationID, r.MessageID, at)
	if err != nil {
		return false, fmt.Errorf("mark recipient: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// FinishBroadcast marks a running broadcast finished once no recipient is
// pending; it reports whether it did.
func (q *Queries) FinishBroadcast(ctx context.Context, id string) (bool, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE broadcasts SET status = 'finished', finished_at = $2
		WHERE id = $1 AND status IN ('scheduled', 'running')
		AND NOT EXISTS (SELECT 1 FROM broadcast_recipients r WHERE r.broadcast_id = $1 AND r.state = 'pending')`, id, micros(q.clock.Now()))
	if err != nil {
		return false, fmt.Errorf("finish broadcast: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// CancelBroadcast stops a broadcast that is still sending: its pending
// recipients are cancelled. A finished or cancelled one is a conflict.
func (q *Queries) CancelBroadcast(ctx context.Context, tenantID, id string) (Broadcast, error) {
	now := micros(q.clock.Now())
	res, err := q.q.ExecContext(ctx, `UPDATE broadcasts SET status = 'cancelled', cancelled_at = $3
		WHERE tenant_id = $1 AND id = $2 AND status IN ('scheduled', 'running')`, tenantID, id, now)
	if err != nil {
		return Broadcast{}, fmt.Errorf("cancel broadcast: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		b, err := q.GetBroadcast(ctx, tenantID, id)
		if err != nil {
			return b, err
		}
		return b, parley.Errorf(parley.CodeConflict, "the broadcast is %s already", b.Status)
	}
	if _, err := q.q.ExecContext(ctx, `UPDATE broadcast_recipients SET state = 'cancelled', reason = 'the broadcast was cancelled'
		WHERE broadcast_id = $1 AND state = 'pending'`, id); err != nil {
		return Broadcast{}, fmt.Errorf("cancel broadcast: %w", err)
	}
	return q.GetBroadcast(ctx, tenantID, id)
}

// outcomeSQL derives a recipient's outcome from its state, its message and
// whether the customer wrote in that conversation after it was queued.
const outcomeSQL = `CASE
	WHEN r.state <> 'queued' THEN r.state
	WHEN m.status = 'failed' THEN 'failed'
	WHEN EXISTS (SELECT 1 FROM messages c WHERE c.conversation_id = r.conversation_id AND c.role = 'customer' AND c.created_at > r.queued_at) THEN 'replied'
	WHEN m.status IN ('sent', 'delivered', 'read') THEN m.status
	ELSE 'queued' END`

// ListRecipients pages through a broadcast's recipients in order (cursor:
// the last seq), optionally only those with one outcome.
func (q *Queries) ListRecipients(ctx context.Context, tenantID, broadcastID, outcome string, p Page) ([]BroadcastRecipient, string, error) {
	p = p.normalize()
	after := 0
	if p.Cursor != "" {
		n, err := strconv.Atoi(p.Cursor)
		if err != nil {
			return nil, "", parley.FieldError("cursor", "not a cursor of this list")
		}
		after = n
	}
	rows, err := q.q.QueryContext(ctx, `SELECT * FROM (SELECT r.seq, r.customer_id, r.phone, r.name, r.state, `+outcomeSQL+` AS outcome,
			CASE WHEN r.state = 'queued' AND m.status = 'failed' THEN COALESCE(NULLIF(m.error_reason, ''), m.error_code) ELSE r.reason END,
			r.conversation_id, r.message_id, r.queued_at
		FROM broadcast_recipients r LEFT JOIN messages m ON m.id = r.message_id AND r.message_id <> ''
		WHERE r.tenant_id = $1 AND r.broadcast_id = $2 AND r.seq > $3) x
		WHERE $4 = '' OR x.outcome = $4 ORDER BY x.seq LIMIT $5`, tenantID, broadcastID, after, outcome, p.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list recipients: %w", err)
	}
	defer rows.Close()
	out := []BroadcastRecipient{}
	for rows.Next() {
		var r BroadcastRecipient
		var reason sql.NullString
		var queued sql.NullInt64
		if err := rows.Scan(&r.Seq, &r.CustomerID, &r.Phone, &r.Name, &r.State, &r.Outcome, &reason, &r.ConversationID, &r.MessageID, &queued); err != nil {
			return nil, "", fmt.Errorf("list recipients: %w", err)
		}
		r.Reason, r.QueuedAt = reason.String, nullTime(queued)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	out, next := nextCursor(out, p.Limit, func(r BroadcastRecipient) string { return strconv.Itoa(r.Seq) })
	return out, next, nil
}

// BroadcastStats counts a broadcast's recipients by outcome.
func (q *Queries) BroadcastStats(ctx context.Context, tenantID, broadcastID string) (BroadcastStats, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT outcome, COUNT(*) FROM (SELECT `+outcomeSQL+` AS outcome
		FROM broadcast_recipients r LEFT JOIN messages m ON m.id = r.message_id AND r.message_id <> ''
		WHERE r.tenant_id = $1 AND r.broadcast_id = $2) x GROUP BY outcome`, tenantID, broadcastID)
	if err != nil {
		return BroadcastStats{}, fmt.Errorf("broadcast stats: %w", err)
	}
	defer rows.Close()
	var s BroadcastStats
	for rows.Next() {
		var outcome string
		var n int
		if err := rows.Scan(&outcome, &n); err != nil {
			return s, fmt.Errorf("broadcast stats: %w", err)
		}
		s.Total += n
		switch outcome {
		case RecipientPending:
			s.Pending += n
		case RecipientQueued:
			s.Queued += n
		case "sent":
			s.Sent += n
		case "delivered":
			s.Sent, s.Delivered = s.Sent+n, s.Delivered+n
		case "read":
			s.Sent, s.Delivered, s.Read = s.Sent+n, s.Delivered+n, s.Read+n
		case "replied":
			s.Sent, s.Replied = s.Sent+n, s.Replied+n
		case "failed":
			s.Failed += n
		case RecipientOptedOut:
			s.OptedOut += n
		case RecipientSkipped:
			s.Skipped += n
		case RecipientCancelled:
			s.Cancelled += n
		}
	}
	return s, rows.Err()
}

// BroadcastSettings are a tenant's broadcast settings. Zero values mean
// package campaign's defaults.
type BroadcastSettings struct {
	OptOutWords []string           `json:"opt_out_words"`
	OptOutReply string             `json:"opt_out_reply"`
	RatePerSec  int                `json:"rate_per_second"`
	Prices      map[string]float64 `json:"prices"`
	UpdatedAt   *time.Time         `json:"updated_at,omitempty"`
}

// GetBroadcastSettings returns the tenant's settings (zero without a row).
func (q *Queries) GetBroadcastSettings(ctx context.Context, tenantID string) (BroadcastSettings, error) {
	var s BroadcastSettings
	var words, prices string
	var updated int64
	err := q.q.QueryRowContext(ctx, `SELECT opt_out_words, opt_out_reply, rate_per_second, prices, updated_at FROM broadcast_settings WHERE tenant_id = $1`,
		tenantID).Scan(&words, &s.OptOutReply, &s.RatePerSec, &prices, &updated)
	if err == sql.ErrNoRows {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("broadcast settings: %w", err)
	}
	t := fromMicros(updated)
	s.UpdatedAt = &t
	if err := decodeJSON(words, &s.OptOutWords); err != nil {
		return s, err
	}
	return s, decodeJSON(prices, &s.Prices)
}

// PutBroadcastSettings replaces the tenant's settings.
func (q *Queries) PutBroadcastSettings(ctx context.Context, tenantID string, s BroadcastSettings) error {
	if s.OptOutWords == nil {
		s.OptOutWords = []string{}
	}
	if s.Prices == nil {
		s.Prices = map[string]float64{}
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO broadcast_settings (tenant_id, opt_out_words, opt_out_reply, rate_per_second, prices, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id) DO UPDATE SET opt_out_words = excluded.opt_out_words,
		opt_out_reply = excluded.opt_out_reply, rate_per_second = excluded.rate_per_second, prices = excluded.prices, updated_at = excluded.updated_at`,
		tenantID, encodeJSON(s.OptOutWords), s.OptOutReply, s.RatePerSec, encodeJSON(s.Prices), micros(q.clock.Now()))
	if err != nil {
		return fmt.Errorf("put broadcast settings: %w", err)
	}
	return nil
}

// OptOut is a phone that asked for no more broadcasts.
type OptOut struct {
	Phone          string    `json:"phone"`
	Word           string    `json:"word"`
	ConversationID string    `json:"conversation_id,omitempty"`
	ConfirmationID string    `json:"confirmation_message_id,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

// AddOptOut records an opt-out; false when the phone had opted out already.
func (q *Queries) AddOptOut(ctx context.Context, tenantID string, o OptOut) (bool, error) {
	res, err := q.q.ExecContext(ctx, `INSERT INTO opt_outs (tenant_id, phone, word, conversation_id, confirmation_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, phone) DO NOTHING`,
		tenantID, o.Phone, o.Word, o.ConversationID, o.ConfirmationID, micros(q.clock.Now()))
	if err != nil {
		return false, fmt.Errorf("add opt-out: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// SetOptOutConfirmation records the message that confirmed an opt-out.
func (q *Queries) SetOptOutConfirmation(ctx context.Context, tenantID, phone, messageID string) error {
	_, err := q.q.ExecContext(ctx, `UPDATE opt_outs SET confirmation_id = $3 WHERE tenant_id = $1 AND phone = $2`, tenantID, phone, messageID)
	return err
}

// GetOptOut returns a phone's opt-out (not found when it has none).
func (q *Queries) GetOptOut(ctx context.Context, tenantID, phone string) (OptOut, error) {
	var o OptOut
	var created int64
	err := q.q.QueryRowContext(ctx, `SELECT phone, word, conversation_id, confirmation_id, created_at FROM opt_outs WHERE tenant_id = $1 AND phone = $2`,
		tenantID, phone).Scan(&o.Phone, &o.Word, &o.ConversationID, &o.ConfirmationID, &created)
	o.CreatedAt = fromMicros(created)
	return o, rowErr(err, "opt-out")
}

// DeleteOptOut forgets a phone's opt-out (the customer opted in again).
func (q *Queries) DeleteOptOut(ctx context.Context, tenantID, phone string) error {
	_, err := q.q.ExecContext(ctx, `DELETE FROM opt_outs WHERE tenant_id = $1 AND phone = $2`, tenantID, phone)
	return err
}

// CustomerMarketing is what a segment reads of a customer.
type CustomerMarketing struct {
	CustomerID string   `json:"customer_id"`
	Tags       []string `json:"tags"`
	OptedIn    bool     `json:"opted_in"`
	OptOut     *OptOut  `json:"opt_out,omitempty"`
}

// GetCustomerMarketing returns a customer's tags, consent and opt-out.
func (q *Queries) GetCustomerMarketing(ctx context.Context, tenantID, customerID string) (CustomerMarketing, error) {
	c, err := q.GetCustomer(ctx, tenantID, customerID)
	if err != nil {
		return CustomerMarketing{}, err
	}
	m := CustomerMarketing{CustomerID: c.ID, Tags: []string{}}
	rows, err := q.q.QueryContext(ctx, `SELECT tag FROM customer_tags WHERE customer_id = $1 ORDER BY tag`, c.ID)
	if err != nil {
		return m, fmt.Errorf("customer tags: %w", err)
	}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return m, err
		}
		m.Tags = append(m.Tags, t)
	}
	rows.Close()
	if err := q.q.QueryRowContext(ctx, `SELECT opted_in FROM customer_consents WHERE customer_id = $1`, c.ID).Scan(&m.OptedIn); err != nil && err != sql.ErrNoRows {
		return m, fmt.Errorf("customer consent: %w", err)
	}
	if o, err := q.GetOptOut(ctx, tenantID, c.Phone); err == nil {
		m.OptOut = &o
	}
	return m, nil
}

// SetCustomerTags replaces a customer's tags.
func (q *Queries) SetCustomerTags(ctx context.Context, tenantID, customerID string, tags []string) error {
	if _, err := q.q.ExecContext(ctx, `DELETE FROM customer_tags WHERE customer_id = $1`, customerID); err != nil {
		return fmt.Errorf("set customer tags: %w", err)
	}
	for _, t := range tags {
		if _, err := q.q.ExecContext(ctx, `INSERT INTO customer_tags (tenant_id, customer_id, tag) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			tenantID, customerID, t); err != nil {
			return fmt.Errorf("set customer tags: %w", err)
		}
	}
	return nil
}

// SetCustomerConsent records whether a customer agreed to marketing.
func (q *Queries) SetCustomerConsent(ctx context.Context, tenantID, customerID string, optedIn bool) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO customer_consents (customer_id, tenant_id, opted_in, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (customer_id) DO UPDATE SET opted_in = excluded.opted_in, updated_at = excluded.updated_at`,
		customerID, tenantID, optedIn, micros(q.clock.Now()))
	if err != nil {
		return fmt.Errorf("set customer consent: %w", err)
	}
	return nil
}

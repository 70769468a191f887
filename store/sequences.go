package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/parleyhq/parley"
)

// This file holds lead sequences, their steps, and the
// notifications and banners they leave for visitors.

const sequenceCols = `id, tenant_id, lead_id, site_id, visitor_id, command_id, status, interval_text, interval_seconds, phone, email, messages,
	stop_reason, started_at, ended_at`

func scanSequence(row interface{ Scan(...any) error }) (parley.Sequence, error) {
	var s parley.Sequence
	var visitorID sql.NullString
	var messages string
	var started int64
	var ended sql.NullInt64
	if err := row.Scan(&s.ID, &s.TenantID, &s.LeadID, &s.SiteID, &visitorID, &s.CommandID, &s.Status, &s.Interval, &s.IntervalS,
		&s.Phone, &s.Email, &messages, &s.StopReason, &started, &ended); err != nil {
		return s, err
	}
	s.VisitorID, s.StartedAt, s.EndedAt = visitorID.String, fromMicros(started), fromNullMicros(ended)
	return s, decodeJSON(messages, &s.Messages)
}

// CreateSequence stores an active sequence and its steps. A lead with an
// active sequence already gives a conflict.
func (q *Queries) CreateSequence(ctx context.Context, s parley.Sequence) (parley.Sequence, error) {
	s.ID, s.Status = newID(), parley.SequenceActive
	if s.StartedAt.IsZero() {
		s.StartedAt = q.clock.Now()
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO lead_sequences (`+sequenceCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		s.ID, s.TenantID, s.LeadID, s.SiteID, nullString(s.VisitorID), s.CommandID, s.Status, s.Interval, s.IntervalS, s.Phone, s.Email,
		encodeJSON(s.Messages), s.StopReason, micros(s.StartedAt), nullMicros(s.EndedAt))
	if err := conflictOr(err, "the lead already has an active sequence"); err != nil {
		return s, fmt.Errorf("create sequence: %w", err)
	}
	for i := range s.Steps {
		st := &s.Steps[i]
		st.ID, st.SequenceID, st.Status = newID(), s.ID, parley.StepScheduled
		if _, err := q.q.ExecContext(ctx, `INSERT INTO lead_sequence_steps (id, tenant_id, sequence_id, position, channel, status, due_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, st.ID, s.TenantID, s.ID, st.Position, st.Channel, st.Status, micros(st.DueAt)); err != nil {
			return s, fmt.Errorf("create sequence step: %w", err)
		}
	}
	return s, nil
}

// GetSequence returns one of the tenant's sequences with its steps.
func (q *Queries) GetSequence(ctx context.Context, tenantID, id string) (parley.Sequence, error) {
	return q.sequenceWithSteps(ctx, `s.tenant_id = $1 AND s.id = $2`, tenantID, id)
}

// LatestSequence returns the lead's newest sequence with its steps.
func (q *Queries) LatestSequence(ctx context.Context, tenantID, leadID string) (parley.Sequence, error) {
	return q.sequenceWithSteps(ctx, `s.tenant_id = $1 AND s.id = (SELECT id FROM lead_sequences
		WHERE tenant_id = $1 AND lead_id = $2 ORDER BY id DESC LIMIT 1)`, tenantID, leadID)
}

// sequenceWithSteps reads the sequence that where picks out and its steps
// in one statement, so one snapshot: a step's outcome and the sequence's
// status commit together (the last step completes the sequence), and two
// reads could show one without the other.
func (q *Queries) sequenceWithSteps(ctx context.Context, where string, args ...any) (parley.Sequence, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT s.id, s.tenant_id, s.lead_id, s.site_id, s.visitor_id, s.command_id, s.status, s.interval_text,
		s.interval_seconds, s.phone, s.email, s.messages, s.stop_reason, s.started_at, s.ended_at,
		st.id, st.position, st.channel, st.status, st.due_at, st.detail, st.done_at
		FROM lead_sequences s LEFT JOIN lead_sequence_steps st ON st.tenant_id = s.tenant_id AND st.sequence_id = s.id
		WHERE `+where+` ORDER BY st.position`, args...)
	if err != nil {
		return parley.Sequence{}, fmt.Errorf("read sequence: %w", err)
	}
	defer rows.Close()
	var seq parley.Sequence
	found := false
	seq.Steps = []parley.SequenceStep{}
	for rows.Next() {
		var stepID, channel, status, detail sql.NullString
		var position, due, done sql.NullInt64
		var sq parley.Sequence
		row := scanFunc(func(dst ...any) error {
			return rows.Scan(append(dst, &stepID, &position, &channel, &status, &due, &detail, &done)...)
		})
		if sq, err = scanSequence(row); err != nil {
			return parley.Sequence{}, err
		}
		if !found {
			seq, found = sq, true
			seq.Steps = []parley.SequenceStep{}
		}
		if stepID.Valid { // no step row: a sequence without steps
			seq.Steps = append(seq.Steps, parley.SequenceStep{ID: stepID.String, SequenceID: seq.ID, Position: int(position.Int64),
				Channel: channel.String, Status: status.String, DueAt: fromMicros(due.Int64), Detail: detail.String, DoneAt: fromNullMicros(done)})
		}
	}
	if err := rows.Err(); err != nil {
		return parley.Sequence{}, err
	}
	if !found {
		return parley.Sequence{}, rowErr(sql.ErrNoRows, "sequence")
	}
	return seq, nil
}

// scanFunc lets scanSequence read a row that carries more columns.
type scanFunc func(dst ...any) error

func (f scanFunc) Scan(dst ...any) error { return f(dst...) }

// FinishStep moves a scheduled step to its outcome. It reports false when
// the step was no longer scheduled (another attempt already finished it).
func (q *Queries) FinishStep(ctx context.Context, tenantID, stepID, status, detail string) (bool, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE lead_sequence_steps SET status = $3, detail = $4, done_at = $5
		WHERE tenant_id = $1 AND id = $2 AND status = 'scheduled'`, tenantID, stepID, status, detail, micros(q.clock.Now()))
	if err != nil {
		return false, fmt.Errorf("finish step: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// EndSequence moves an active sequence to status (completed, stopped or
// cancelled) with a reason, cancels its steps still scheduled and
// withdraws its banners. It reports false when the sequence was not active.
func (q *Queries) EndSequence(ctx context.Context, tenantID, id, status, reason string) (bool, error) {
	now := micros(q.clock.Now())
	res, err := q.q.ExecContext(ctx, `UPDATE lead_sequences SET status = $3, stop_reason = $4, ended_at = $5
		WHERE tenant_id = $1 AND id = $2 AND status = 'active'`, tenantID, id, status, reason, now)
	if err != nil {
		return false, fmt.Errorf("end sequence: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	if _, err := q.q.ExecContext(ctx, `UPDATE lead_sequence_steps SET status = $3, detail = $4, done_at = $5
		WHERE tenant_id = $1 AND sequence_id = $2 AND status = 'scheduled'`, tenantID, id, parley.StepCancelled, "sequence "+status+": "+reason, now); err != nil {
		return false, fmt.Errorf("cancel steps: %w", err)
	}
	if status != parley.SequenceCompleted {
		if _, err := q.q.ExecContext(ctx, `UPDATE visitor_messages SET withdrawn_at = $3 WHERE tenant_id = $1 AND sequence_id = $2 AND withdrawn_at IS NULL`,
			tenantID, id, now); err != nil {
			return false, fmt.Errorf("withdraw banners: %w", err)
		}
	}
	return true, nil
}

// LeadRepliedSince reports whether the contact with the E.164 phone wrote
// to the tenant in any conversation after since.
func (q *Queries) LeadRepliedSince(ctx context.Context, tenantID, phone string, since time.Time) (bool, error) {
	if phone == "" {
		return false, nil
	}
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
		WHERE m.tenant_id = $1 AND c.tenant_id = $1 AND c.contact_phone = $2 AND m.role = $3 AND m.created_at > $4`,
		tenantID, phone, parley.RoleCustomer, micros(since)).Scan(&n)
	return n > 0, err
}

// LeadEventSince reports whether the lead's log has an event of the name
// after since.
func (q *Queries) LeadEventSince(ctx context.Context, tenantID, leadID, name string, since time.Time) (bool, error) {
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM lead_events WHERE tenant_id = $1 AND lead_id = $2 AND name = $3 AND created_at > $4`,
		tenantID, leadID, name, micros(since)).Scan(&n)
	return n > 0, err
}

const visitorMessageCols = `id, tenant_id, site_id, visitor_id, lead_id, sequence_id, kind, title, message, created_at, withdrawn_at`

func scanVisitorMessage(row interface{ Scan(...any) error }) (parley.VisitorMessage, error) {
	var m parley.VisitorMessage
	var created int64
	var withdrawn sql.NullInt64
	err := row.Scan(&m.ID, &m.TenantID, &m.SiteID, &m.VisitorID, &m.LeadID, &m.SequenceID, &m.Kind, &m.Title, &m.Message, &created, &withdrawn)
	m.CreatedAt, m.WithdrawnAt = fromMicros(created), fromNullMicros(withdrawn)
	return m, err
}

// CreateVisitorMessage stores a notification or banner for a visitor.
func (q *Queries) CreateVisitorMessage(ctx context.Context, m parley.VisitorMessage) (parley.VisitorMessage, error) {
	m.ID, m.CreatedAt = newID(), q.clock.Now()
	_, err := q.q.ExecContext(ctx, `INSERT INTO visitor_messages (`+visitorMessageCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		m.ID, m.TenantID, m.SiteID, m.VisitorID, m.LeadID, m.SequenceID, m.Kind, m.Title, m.Message, micros(m.CreatedAt), nullMicros(m.WithdrawnAt))
	if err != nil {
		return m, fmt.Errorf("create visitor message: %w", err)
	}
	return m, nil
}

// ListVisitorMessages pages through a visitor's messages of one kind, oldest first.
func (q *Queries) ListVisitorMessages(ctx context.Context, tenantID, visitorID, kind string, p Page) ([]parley.VisitorMessage, string, error) {
	return list(ctx, q, p, scanVisitorMessage, func(m parley.VisitorMessage) string { return m.ID },
		`SELECT `+visitorMessageCols+` FROM visitor_messages WHERE tenant_id = $1 AND visitor_id = $4 AND kind = $5 AND id > $2 ORDER BY id LIMIT $3`,
		tenantID, visitorID, kind)
}

// CurrentBanner returns the newest banner still shown to a visitor of a site.
func (q *Queries) CurrentBanner(ctx context.Context, tenantID, siteID, visitorID string) (parley.VisitorMessage, error) {
	m, err := scanVisitorMessage(q.q.QueryRowContext(ctx, `SELECT `+visitorMessageCols+` FROM visitor_messages
		WHERE tenant_id = $1 AND site_id = $2 AND visitor_id = $3 AND kind = $4 AND withdrawn_at IS NULL ORDER BY id DESC LIMIT 1`,
		tenantID, siteID, visitorID, parley.LeadChannelWeb))
	return m, rowErr(err, "banner")
}

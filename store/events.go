package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/event"
)

const eventCols = `id, tenant_id, conversation_id, name, payload, created_at`

func scanEvent(row interface{ Scan(...any) error }) (parley.Event, error) {
	var e parley.Event
	var payload string
	var created int64
	if err := row.Scan(&e.ID, &e.TenantID, &e.ConversationID, &e.Name, &payload, &created); err != nil {
		return e, err
	}
	e.CreatedAt = fromMicros(created)
	if err := decodeJSON(payload, &e.Payload); err != nil {
		return e, err
	}
	if e.Payload == nil {
		e.Payload = map[string]any{}
	}
	return e, nil
}

// AppendEvent adds an entry to a conversation's log. The payload is the
// event's struct of the catalog; one not made for name is refused, so what
// is logged is what `parley events` documents.
//
// In a transaction the event is written when the transaction commits,
// together with every other event it appended: one multi-row INSERT
// instead of one (or, with webhooks and the event outbox, three)
// statements per event. Its id is made then too, so that the log's order
// (by id) and the event outbox's (by sequence number) agree. Reads of the
// log in the same transaction see it.
func (q *Queries) AppendEvent(ctx context.Context, tenantID, conversationID, name string, payload event.Payload) error {
	if !event.Check(name, payload) {
		return fmt.Errorf("append event %s: payload %T is not one of its catalog", name, payload)
	}
	pe := pendingEvent{e: parley.Event{TenantID: tenantID, ConversationID: conversationID, Name: name, CreatedAt: q.clock.Now()},
		body: encodeJSON(payload)}
	if q.events != nil {
		*q.events = append(*q.events, pe)
		return nil
	}
	return q.writeEvents(ctx, []pendingEvent{pe})
}

// pendingEvent is an event appended in a transaction, not written yet.
type pendingEvent struct {
	e    parley.Event
	body string
}

// eventRowsPerInsert bounds one INSERT's rows (6 parameters each: well
// under both engines' parameter limits).
const eventRowsPerInsert = 200

// flushEvents writes the events appended in q's transaction so far.
func (q *Queries) flushEvents(ctx context.Context) error {
	if q.events == nil || len(*q.events) == 0 {
		return nil
	}
	evs := *q.events
	*q.events = nil
	return q.writeEvents(ctx, evs)
}

// writeEvents inserts events into the log, queues them for publishing
// (the event outbox) and for tenants' webhook subscriptions, a few
// statements for all of them.
func (q *Queries) writeEvents(ctx context.Context, evs []pendingEvent) error {
	if q.tx == nil && (q.outbox || q.hooks.active()) {
		// The log rows and the rows queued beside them commit together.
		db, ok := q.q.(*sql.DB)
		if !ok {
			return fmt.Errorf("append event %s: no transaction to write it in", evs[0].e.Name)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("append event %s: begin: %w", evs[0].e.Name, err)
		}
		in := *q
		in.q, in.tx = tx, tx
		if err := in.writeEvents(ctx, evs); err != nil {
			_ = tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("append event %s: commit: %w", evs[0].e.Name, err)
		}
		return nil
	}
	if q.outbox && q.engine == Postgres {
		if err := q.lockEventOrder(ctx, evs); err != nil {
			return err
		}
	}
	for i := range evs {
		evs[i].e.ID = newID()
	}
	for len(evs) > 0 {
		n := min(len(evs), eventRowsPerInsert)
		chunk := evs[:n]
		evs = evs[n:]
		var b strings.Builder
		args := make([]any, 0, 6*n)
		b.WriteString(`INSERT INTO conversation_events (` + eventCols + `) VALUES `)
		for i, pe := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			k := 6 * i
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d)", k+1, k+2, k+3, k+4, k+5, k+6)
			args = append(args, pe.e.ID, pe.e.TenantID, pe.e.ConversationID, pe.e.Name, pe.body, micros(pe.e.CreatedAt))
		}
		if _, err := q.q.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("append event %s: %w", chunk[0].e.Name, err)
		}
		if q.outbox {
			b.Reset()
			ids := make([]any, n)
			b.WriteString(`INSERT INTO event_outbox (event_id) VALUES `)
			for i, pe := range chunk {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "($%d)", i+1)
				ids[i] = pe.e.ID
			}
			if _, err := q.q.ExecContext(ctx, b.String(), ids...); err != nil {
				return fmt.Errorf("queue events for publishing: %w", err)
			}
		}
		if q.hooks.active() {
			if err := q.queueDeliveries(ctx, chunk); err != nil {
				return err
			}
		}
	}
	return nil
}

// lockEventOrder makes a conversation's events reach the outbox in the
// order of its log, on PostgreSQL. The log's order is the ids', made here;
// the publisher's is the outbox sequence's, among committed rows. Two
// transactions writing events of one conversation could otherwise take ids
// in one order and commit in the other, and the publisher would send the
// later event first. A lock per conversation, held until the commit (this
// runs just before it), makes the second wait for the first. SQLite needs
// none: it commits one writing transaction at a time.
func (q *Queries) lockEventOrder(ctx context.Context, evs []pendingEvent) error {
	keys := make([]string, 0, len(evs))
	for _, pe := range evs {
		keys = append(keys, "events:"+pe.e.ConversationID)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	// The target list's volatile lock calls run after the ORDER BY: in key
	// order, so two transactions never take each other's locks crosswise.
	if _, err := q.q.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(k, 0))
		FROM unnest(string_to_array($1, E'\x1f')) AS k ORDER BY k`, strings.Join(keys, "\x1f")); err != nil {
		return fmt.Errorf("lock conversations' event order: %w", err)
	}
	return nil
}

// ListEvents pages through a conversation's log, oldest first.
func (q *Queries) ListEvents(ctx context.Context, tenantID, conversationID string, p Page) ([]parley.Event, string, error) {
	if err := q.flushEvents(ctx); err != nil {
		return nil, "", err
	}
	return list(ctx, q, p, scanEvent, func(e parley.Event) string { return e.ID },
		`SELECT `+eventCols+` FROM conversation_events WHERE tenant_id = $1 AND conversation_id = $4 AND id > $2 ORDER BY id LIMIT $3`, tenantID, conversationID)
}

// LatestEvent returns the conversation's last event called name logged at
// or after since, or nil when there is none.
func (q *Queries) LatestEvent(ctx context.Context, tenantID, conversationID, name string, since time.Time) (*parley.Event, error) {
	if err := q.flushEvents(ctx); err != nil {
		return nil, err
	}
	e, err := scanEvent(q.q.QueryRowContext(ctx, `SELECT `+eventCols+` FROM conversation_events
		WHERE conversation_id = $1 AND tenant_id = $2 AND name = $3 AND created_at >= $4 ORDER BY created_at DESC, id DESC LIMIT 1`,
		conversationID, tenantID, name, micros(since)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("latest event %s: %w", name, err)
	}
	return &e, nil
}

// OutboxEvent is an event waiting in the outbox, with its place in line.
type OutboxEvent struct {
	Seq int64
	parley.Event
}

// PendingEvents returns up to limit events waiting to be published, oldest first.
func (q *Queries) PendingEvents(ctx context.Context, limit int) ([]OutboxEvent, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT o.seq, e.id, e.tenant_id, e.conversation_id, e.name, e.payload, e.created_at
		FROM event_outbox o JOIN conversation_events e ON e.id = o.event_id ORDER BY o.seq LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("pending events: %w", err)
	}
	defer rows.Close()
	var out []OutboxEvent
	for rows.Next() {
		var o OutboxEvent
		var seq int64
		ev, err := scanEvent(prefixScanner{rows, &seq})
		if err != nil {
			return nil, fmt.Errorf("pending events: %w", err)
		}
		o.Seq, o.Event = seq, ev
		out = append(out, o)
	}
	return out, rows.Err()
}

// prefixScanner scans a leading column into first, the rest as asked.
type prefixScanner struct {
	row   interface{ Scan(...any) error }
	first any
}

func (p prefixScanner) Scan(dest ...any) error { return p.row.Scan(append([]any{p.first}, dest...)...) }

// DeletePublishedEvents removes the outbox rows of events the bus has.
func (q *Queries) DeletePublishedEvents(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	ph := make([]string, len(seqs))
	args := make([]any, len(seqs))
	for i, s := range seqs {
		ph[i], args[i] = fmt.Sprintf("$%d", i+1), s
	}
	_, err := q.q.ExecContext(ctx, `DELETE FROM event_outbox WHERE seq IN (`+strings.Join(ph, ", ")+`)`, args...)
	if err != nil {
		return fmt.Errorf("delete published events: %w", err)
	}
	return nil
}

// EventBacklog counts the events waiting to be published.
func (q *Queries) EventBacklog(ctx context.Context) (int64, error) {
	var n int64
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM event_outbox`).Scan(&n)
	return n, err
}

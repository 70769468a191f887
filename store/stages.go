package store

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley"
)

// The inbound stages' rows (migration 0180): unprocessed inbox messages for
// the receive stage, answer_queue for the answer stage. A stage claims a
// batch in one statement under a lease and a claim token; only the holder
// of a row's current claim finishes it.

// NewClaim returns a fresh claim token for one stage turn.
func NewClaim() string { return newID() }

// placeholders returns "$from, $from+1, …" for n values.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(from + i))
	}
	return b.String()
}

// skipLocked is what a claim's inner SELECT adds on PostgreSQL, so that
// replicas claiming at once split the ready rows instead of waiting for
// each other. SQLite has one writer and no row locks.
func (q *Queries) skipLocked() string {
	if q.engine == Postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// inboxChunk bounds the rows of one multi-row insert (11 values each) well
// under both engines' limits on bound parameters.
const inboxChunk = 400

// InsertInboxMany stores many inbound messages in as few statements as it
// can, each unless its channel already has one with its provider id (also
// within ms). It returns the messages with their ids and, for each, whether
// it was inserted. Like InsertInbox it never fails on a duplicate.
func (q *Queries) InsertInboxMany(ctx context.Context, ms []InboxMessage) ([]InboxMessage, []bool, error) {
	inserted := make([]bool, len(ms))
	now := q.clock.Now()
	for start := 0; start < len(ms); start += inboxChunk {
		part := ms[start:min(start+inboxChunk, len(ms))]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO channel_inbox (id, tenant_id, channel_id, provider_message_id, sender, contact_name, type, content, extra,
			sent_at, received_at, processed_at, outcome) VALUES `)
		args := make([]any, 0, len(part)*11)
		byID := make(map[string]int, len(part))
		for i := range part {
			m := &part[i]
			m.ID, m.ReceivedAt = newID(), now
			if m.SentAt.IsZero() {
				m.SentAt = now
			}
			var extra any
			if m.Extra != nil {
				extra = encodeJSON(m.Extra)
			}
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(" + placeholders(len(args)+1, 11) + ", NULL, '')")
			args = append(args, m.ID, m.TenantID, m.ChannelID, m.ProviderMessageID, m.Sender, m.ContactName, m.Type, m.Content, extra,
				micros(m.SentAt), micros(m.ReceivedAt))
			byID[m.ID] = start + i
		}
		sb.WriteString(` ON CONFLICT (channel_id, provider_message_id) DO NOTHING RETURNING id`)
		rows, err := q.q.QueryContext(ctx, sb.String(), args...)
		if err != nil {
			return ms, inserted, fmt.Errorf("insert inbox messages: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return ms, inserted, fmt.Errorf("insert inbox messages: %w", err)
			}
			inserted[byID[id]] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return ms, inserted, fmt.Errorf("insert inbox messages: %w", err)
		}
	}
	return ms, inserted, nil
}

// ClaimInbox claims up to n unprocessed inbox messages whose lease is free
// or ran out, for lease, under claim; oldest first.
func (q *Queries) ClaimInbox(ctx context.Context, claim string, n int, lease time.Duration) ([]InboxMessage, error) {
	now := q.clock.Now()
	return q.updateInbox(ctx, `UPDATE channel_inbox SET lease_until = $1, claim = $2, attempts = attempts + 1
		WHERE id IN (SELECT id FROM channel_inbox WHERE processed_at IS NULL AND (lease_until IS NULL OR lease_until <= $3)
			ORDER BY id LIMIT $4`+q.skipLocked()+`)`, micros(now.Add(lease)), claim, micros(now), n)
}

// LeaseInbox claims, for lease under claim, those of ids that are still
// unprocessed and free: the receive stage's way to go through a failed
// batch one message at a time, each failure costing its message a lease.
func (q *Queries) LeaseInbox(ctx context.Context, claim string, ids []string, lease time.Duration) ([]InboxMessage, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	now := q.clock.Now()
	args := []any{micros(now.Add(lease)), claim, micros(now)}
	for _, id := range ids {
		args = append(args, id)
	}
	return q.updateInbox(ctx, `UPDATE channel_inbox SET lease_until = $1, claim = $2, attempts = attempts + 1
		WHERE processed_at IS NULL AND (lease_until IS NULL OR lease_until <= $3) AND id IN (`+placeholders(4, len(ids))+`)`, args...)
}

// TakeInbox takes up to n ready inbox messages (unprocessed, no lease or
// one that ran out), oldest first, and marks them processed (outcome
// "received") in the caller's transaction: claim and result in one
// statement and one commit. The rows stay locked until the commit
// (PostgreSQL: other processes skip them); a rollback, or a process that
// dies before committing, leaves them ready again at once.
func (q *Queries) TakeInbox(ctx context.Context, n int) ([]InboxMessage, error) {
	now := micros(q.clock.Now())
	return q.updateInbox(ctx, `UPDATE channel_inbox SET processed_at = $1, outcome = 'received', lease_until = NULL, attempts = attempts + 1
		WHERE id IN (SELECT id FROM channel_inbox WHERE processed_at IS NULL AND (lease_until IS NULL OR lease_until <= $1)
			ORDER BY id LIMIT $2`+q.skipLocked()+`)`, now, n)
}

// updateInbox runs an UPDATE of inbox rows and returns them, oldest first.
func (q *Queries) updateInbox(ctx context.Context, update string, args ...any) ([]InboxMessage, error) {
	rows, err := q.q.QueryContext(ctx, update+` RETURNING `+inboxCols+`, attempts`, args...)
	if err != nil {
		return nil, fmt.Errorf("claim inbox: %w", err)
	}
	defer rows.Close()
	var out []InboxMessage
	for rows.Next() {
		var m InboxMessage
		var extra *string
		var sent, received int64
		var processed *int64
		if err := rows.Scan(&m.ID, &m.TenantID, &m.ChannelID, &m.ProviderMessageID, &m.Sender, &m.ContactName, &m.Type, &m.Content, &extra,
			&sent, &received, &processed, &m.Outcome, &m.Attempts); err != nil {
			return nil, fmt.Errorf("claim inbox: %w", err)
		}
		m.SentAt, m.ReceivedAt = fromMicros(sent), fromMicros(received)
		if extra != nil {
			if err := decodeJSON(*extra, &m.Extra); err != nil {
				return nil, fmt.Errorf("claim inbox: %w", err)
			}
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim inbox: %w", err)
	}
	// RETURNING keeps no order: arrival order is what a conversation needs.
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// FinishInbox marks the claimed messages among ids processed (outcome
// "received"), in the caller's transaction, and returns those it marked: a
// message whose lease ran out and was claimed again is not this claim's
// to finish any more. The UPDATE locks the rows until the commit.
func (q *Queries) FinishInbox(ctx context.Context, claim string, ids []string) (map[string]bool, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := []any{micros(q.clock.Now()), claim}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := q.q.QueryContext(ctx, `UPDATE channel_inbox SET processed_at = $1, outcome = 'received', lease_until = NULL
		WHERE claim = $2 AND processed_at IS NULL AND id IN (`+placeholders(3, len(ids))+`) RETURNING id`, args...)
	if err != nil {
		return nil, fmt.Errorf("finish inbox: %w", err)
	}
	defer rows.Close()
	mine := make(map[string]bool, len(ids))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("finish inbox: %w", err)
		}
		mine[id] = true
	}
	return mine, rows.Err()
}

// SetInboxOutcome records why a processed inbox message was not taken into
// a conversation.
func (q *Queries) SetInboxOutcome(ctx context.Context, id, outcome string) error {
	if _, err := q.q.ExecContext(ctx, `UPDATE channel_inbox SET outcome = $2 WHERE id = $1`, id, outcome); err != nil {
		return fmt.Errorf("set inbox outcome: %w", err)
	}
	return nil
}

// UnprocessedInbox counts inbox messages not yet taken in (tests, metrics).
func (q *Queries) UnprocessedInbox(ctx context.Context) (int, error) {
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM channel_inbox WHERE processed_at IS NULL`).Scan(&n)
	return n, err
}

// ToAnswer is a claimed answer_queue row: the conversation has messageID
// for the AI agent to answer.
type ToAnswer struct {
	TenantID       string
	ConversationID string
	MessageID      string
	Attempts       int
}

// QueueAnswer asks the answer stage to answer messageID in its
// conversation, in the caller's transaction. A conversation has one row:
// a newer message replaces an older one (and frees the row's claim, so the
// newer message is answered at once; the older answer, if one is being
// written, is dropped at its commit).
func (q *Queries) QueueAnswer(ctx context.Context, tenantID, conversationID, messageID string) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO answer_queue (conversation_id, tenant_id, message_id, queued_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (conversation_id) DO UPDATE SET
			lease_until = CASE WHEN excluded.message_id > answer_queue.message_id THEN NULL ELSE answer_queue.lease_until END,
			claim = CASE WHEN excluded.message_id > answer_queue.message_id THEN NULL ELSE answer_queue.claim END,
			attempts = CASE WHEN excluded.message_id > answer_queue.message_id THEN 0 ELSE answer_queue.attempts END,
			message_id = CASE WHEN excluded.message_id > answer_queue.message_id THEN excluded.message_id ELSE answer_queue.message_id END`,
		conversationID, tenantID, messageID, micros(q.clock.Now()))
	if err != nil {
		return fmt.Errorf("queue answer: %w", err)
	}
	return nil
}

// ClaimAnswers claims up to n conversations to answer whose lease is free
// or ran out, for lease, under claim; longest waiting first.
func (q *Queries) ClaimAnswers(ctx context.Context, claim string, n int, lease time.Duration) ([]ToAnswer, error) {
	now := q.clock.Now()
	rows, err := q.q.QueryContext(ctx, `UPDATE answer_queue SET lease_until = $1, claim = $2, attempts = attempts + 1
		WHERE conversation_id IN (SELECT conversation_id FROM answer_queue WHERE lease_until IS NULL OR lease_until <= $3
			ORDER BY queued_at LIMIT $4`+q.skipLocked()+`)
		RETURNING tenant_id, conversation_id, message_id, attempts`, micros(now.Add(lease)), claim, micros(now), n)
	if err != nil {
		return nil, fmt.Errorf("claim answers: %w", err)
	}
	defer rows.Close()
	var out []ToAnswer
	for rows.Next() {
		var a ToAnswer
		if err := rows.Scan(&a.TenantID, &a.ConversationID, &a.MessageID, &a.Attempts); err != nil {
			return nil, fmt.Errorf("claim answers: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// RenewAnswers extends the lease of the rows claim still holds: a slow
// model must not let another process start the same answer.
func (q *Queries) RenewAnswers(ctx context.Context, claim string, lease time.Duration) error {
	_, err := q.q.ExecContext(ctx, `UPDATE answer_queue SET lease_until = $1 WHERE claim = $2`, micros(q.clock.Now().Add(lease)), claim)
	if err != nil {
		return fmt.Errorf("renew answer leases: %w", err)
	}
	return nil
}

// DoneAnswers deletes the rows of conversations claim still holds: their
// answer is committed, or nothing was left to answer. A row a newer
// message freed meanwhile stays, for that message.
func (q *Queries) DoneAnswers(ctx context.Context, claim string, conversationIDs []string) error {
	if len(conversationIDs) == 0 {
		return nil
	}
	args := []any{claim}
	for _, id := range conversationIDs {
		args = append(args, id)
	}
	_, err := q.q.ExecContext(ctx, `DELETE FROM answer_queue WHERE claim = $1 AND conversation_id IN (`+placeholders(2, len(conversationIDs))+`)`, args...)
	if err != nil {
		return fmt.Errorf("done answers: %w", err)
	}
	return nil
}

// PendingAnswers counts conversations waiting for the answer stage.
func (q *Queries) PendingAnswers(ctx context.Context) (int, error) {
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM answer_queue`).Scan(&n)
	return n, err
}

// LockContacts is LockContact for many contacts (pairs of tenant id and
// E.164 number) in one statement, in one global order: the receive and
// answer stages lock their batch's contacts first, so two batches that
// share contacts wait for each other instead of deadlocking over the
// conversation rows they both write.
func (q *Queries) LockContacts(ctx context.Context, contacts [][2]string) error {
	if q.engine != Postgres || len(contacts) == 0 {
		return nil
	}
	if q.tx == nil {
		return fmt.Errorf("lock contacts: needs a transaction")
	}
	keys := make([]string, len(contacts))
	for i, c := range contacts {
		keys[i] = "contact:" + c[0] + ":" + c[1]
	}
	sort.Strings(keys)
	// The target list's volatile lock calls run after the ORDER BY.
	_, err := q.q.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(k, 0))
		FROM (SELECT DISTINCT unnest(string_to_array($1, E'\x1f')) AS k) keys ORDER BY k`, strings.Join(keys, "\x1f"))
	if err != nil {
		return fmt.Errorf("lock contacts: %w", err)
	}
	return nil
}

// AnswerState is what decides whether a message still needs the AI
// agent's answer, read in one statement (the answer stage reads it before
// asking the model and again in the commit).
type AnswerState struct {
	Conversation parley.Conversation
	Answered     bool        // the message has a ledger entry
	LatestID     string      // the conversation's newest customer message ("" none)
	Role         parley.Role // the message's role ("" when it is gone)
	TicketOpen   bool        // a ticket holds the conversation
}

// extraScan scans a row's trailing columns into extra, after the ones a
// scan function knows.
type extraScan struct {
	row   interface{ Scan(...any) error }
	extra []any
}

func (e extraScan) Scan(dest ...any) error { return e.row.Scan(append(dest, e.extra...)...) }

// AnswerKey names a message waiting for the AI agent's answer.
type AnswerKey struct{ TenantID, ConversationID, MessageID string }

// AnswerStates is AnswerState for a batch, in one statement, by
// conversation id; a conversation that is gone is missing from the map.
func (q *Queries) AnswerStates(ctx context.Context, keys []AnswerKey) (map[string]AnswerState, error) {
	out := make(map[string]AnswerState, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	var vals strings.Builder
	args := make([]any, 0, 3*len(keys))
	for i, k := range keys {
		if i > 0 {
			vals.WriteString(", ")
		}
		fmt.Fprintf(&vals, "($%d, $%d, $%d)", 3*i+1, 3*i+2, 3*i+3)
		args = append(args, k.TenantID, k.ConversationID, k.MessageID)
	}
	// k.column1..3 are the tenant, conversation and message ids.
	rows, err := q.q.QueryContext(ctx, `SELECT `+prefixCols("c.", conversationCols)+`,
		EXISTS (SELECT 1 FROM answered_messages a WHERE a.tenant_id = k.column1 AND a.message_id = k.column3),
		COALESCE((SELECT m.id FROM messages m WHERE m.tenant_id = k.column1 AND m.conversation_id = k.column2 AND m.role = 'customer' ORDER BY m.id DESC LIMIT 1), ''),
		COALESCE((SELECT m.role FROM messages m WHERE m.tenant_id = k.column1 AND m.id = k.column3), ''),
		EXISTS (SELECT 1 FROM tickets t WHERE t.tenant_id = k.column1 AND t.conversation_id = k.column2 AND t.status = 'open')
		FROM (VALUES `+vals.String()+`) AS k JOIN conversations c ON c.tenant_id = k.column1 AND c.id = k.column2`, args...)
	if err != nil {
		return nil, fmt.Errorf("answer states: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st AnswerState
		var role string
		c, err := scanConversation(extraScan{rows, []any{&st.Answered, &st.LatestID, &role, &st.TicketOpen}})
		if err != nil {
			return nil, fmt.Errorf("answer states: %w", err)
		}
		st.Conversation, st.Role = c, parley.Role(role)
		out[c.ID] = st
	}
	return out, rows.Err()
}

// prefixCols qualifies each of a comma-separated column list with p.
func prefixCols(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// ContactsByPhone looks up many contacts (pairs of tenant id and E.164
// number) at once: the staff members and the customers with those
// numbers, one statement each.
func (q *Queries) ContactsByPhone(ctx context.Context, contacts [][2]string) (map[[2]string]parley.StaffMember, map[[2]string]parley.Customer, error) {
	staff := map[[2]string]parley.StaffMember{}
	customers := map[[2]string]parley.Customer{}
	if len(contacts) == 0 {
		return staff, customers, nil
	}
	var where strings.Builder
	args := make([]any, 0, 2*len(contacts))
	for i, c := range contacts {
		if i > 0 {
			where.WriteString(" OR ")
		}
		fmt.Fprintf(&where, "(tenant_id = $%d AND phone = $%d)", len(args)+1, len(args)+2)
		args = append(args, c[0], c[1])
	}
	rows, err := q.q.QueryContext(ctx, `SELECT `+staffCols+` FROM staff_members WHERE `+where.String(), args...)
	if err != nil {
		return nil, nil, fmt.Errorf("staff by phone: %w", err)
	}
	for rows.Next() {
		m, err := scanStaff(rows)
		if err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("staff by phone: %w", err)
		}
		staff[[2]string{m.TenantID, m.Phone}] = m
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("staff by phone: %w", err)
	}
	rows, err = q.q.QueryContext(ctx, `SELECT `+customerCols+` FROM customers WHERE `+where.String(), args...)
	if err != nil {
		return nil, nil, fmt.Errorf("customers by phone: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanCustomer(rows)
		if err != nil {
			return nil, nil, fmt.Errorf("customers by phone: %w", err)
		}
		customers[[2]string{c.TenantID, c.Phone}] = c
	}
	return staff, customers, rows.Err()
}

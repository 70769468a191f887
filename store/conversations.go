package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/event"
)

const conversationCols = `id, tenant_id, kind, status, customer_id, staff_member_id, contact_phone, channel_id, language,
	session_started_at, last_customer_message_at, last_agent_message_at, created_at, updated_at`

func scanConversation(row interface{ Scan(...any) error }) (parley.Conversation, error) {
	var c parley.Conversation
	var customerID, staffID, channelID sql.NullString
	var session, created, updated int64
	var lastCustomer, lastAgent sql.NullInt64
	if err := row.Scan(&c.ID, &c.TenantID, &c.Kind, &c.Status, &customerID, &staffID, &c.ContactPhone, &channelID, &c.Language,
		&session, &lastCustomer, &lastAgent, &created, &updated); err != nil {
		return c, err
	}
	c.CustomerID, c.StaffMemberID, c.ChannelID = customerID.String, staffID.String, channelID.String
	c.SessionStartedAt, c.CreatedAt, c.UpdatedAt = fromMicros(session), fromMicros(created), fromMicros(updated)
	c.LastCustomerMessageAt, c.LastAgentMessageAt = fromNullMicros(lastCustomer), fromNullMicros(lastAgent)
	return c, nil
}

// CreateConversation stores a new conversation, open unless a status is given.
func (q *Queries) CreateConversation(ctx context.Context, c parley.Conversation) (parley.Conversation, error) {
	now := q.clock.Now()
	c.ID, c.CreatedAt, c.UpdatedAt = newID(), now, now
	if c.Status == "" {
		c.Status = parley.ConversationOpen
	}
	if c.Kind == "" {
		c.Kind = parley.KindCustomer
	}
	if c.SessionStartedAt.IsZero() {
		c.SessionStartedAt = now
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO conversations (`+conversationCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		c.ID, c.TenantID, c.Kind, c.Status, nullString(c.CustomerID), nullString(c.StaffMemberID), c.ContactPhone, nullString(c.ChannelID), c.Language,
		micros(c.SessionStartedAt), nullMicros(c.LastCustomerMessageAt), nullMicros(c.LastAgentMessageAt), micros(c.CreatedAt), micros(c.UpdatedAt))
	if err != nil {
		return c, fmt.Errorf("create conversation: %w", err)
	}
	return c, nil
}

// GetConversation returns one of the tenant's conversations.
func (q *Queries) GetConversation(ctx context.Context, tenantID, id string) (parley.Conversation, error) {
	c, err := scanConversation(q.q.QueryRowContext(ctx, `SELECT `+conversationCols+` FROM conversations WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return c, rowErr(err, "conversation")
}

// OpenConversationByContact finds the tenant's open conversation of a kind
// with a phone number, the one a new inbound message joins.
func (q *Queries) OpenConversationByContact(ctx context.Context, tenantID string, kind parley.ConversationKind, phone string) (parley.Conversation, error) {
	c, err := scanConversation(q.q.QueryRowContext(ctx, `SELECT `+conversationCols+` FROM conversations
		WHERE tenant_id = $1 AND contact_phone = $2 AND kind = $3 AND status = 'open' ORDER BY id DESC LIMIT 1`, tenantID, phone, kind))
	return c, rowErr(err, "conversation")
}

// ConversationFilter narrows ListConversations. Empty fields match all.
type ConversationFilter struct {
	Status     parley.ConversationStatus
	ChannelID  string
	CustomerID string
	Kind       parley.ConversationKind
	// Where adds engine-neutral conditions owned by other packages (for
	// example "has an open ticket"), each with its own arguments.
	Where []Condition
}

// Condition is one SQL condition with its arguments, written with "?"
// placeholders that are numbered when the query is built.
type Condition struct {
	SQL  string
	Args []any
}

// ListConversations pages through the tenant's conversations, newest first.
func (q *Queries) ListConversations(ctx context.Context, tenantID string, f ConversationFilter, p Page) ([]parley.Conversation, string, error) {
	p = p.normalize()
	var b queryBuilder
	b.add("tenant_id = ?", tenantID)
	if p.Cursor != "" {
		b.add("id < ?", p.Cursor)
	}
	if f.Status != "" {
		b.add("status = ?", f.Status)
	}
	if f.ChannelID != "" {
		b.add("channel_id = ?", f.ChannelID)
	}
	if f.CustomerID != "" {
		b.add("customer_id = ?", f.CustomerID)
	}
	if f.Kind != "" {
		b.add("kind = ?", f.Kind)
	}
	for _, c := range f.Where {
		b.add(c.SQL, c.Args...)
	}
	query := `SELECT ` + conversationCols + ` FROM conversations WHERE ` + b.where() + ` ORDER BY id DESC LIMIT ` + strconv.Itoa(p.Limit+1)
	rows, err := q.q.QueryContext(ctx, query, b.args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	items := []parley.Conversation{}
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, "", err
		}
		items = append(items, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	items, next := nextCursor(items, p.Limit, func(c parley.Conversation) string { return c.ID })
	return items, next, nil
}

// queryBuilder joins conditions with AND and numbers their "?" placeholders
// as $1, $2… which both engines accept.
type queryBuilder struct {
	conds []string
	args  []any
}

func (b *queryBuilder) add(cond string, args ...any) {
	var out strings.Builder
	for _, r := range cond {
		if r == '?' {
			b.args = append(b.args, args[0])
			args = args[1:]
			out.WriteString("$" + strconv.Itoa(len(b.args)))
			continue
		}
		out.WriteRune(r)
	}
	b.conds = append(b.conds, "("+out.String()+")")
}

func (b *queryBuilder) where() string { return strings.Join(b.conds, " AND ") }

// SetConversationStatus opens or closes a conversation.
func (q *Queries) SetConversationStatus(ctx context.Context, tenantID, id string, status parley.ConversationStatus) error {
	res, err := q.q.ExecContext(ctx, `UPDATE conversations SET status = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2`,
		tenantID, id, status, micros(q.clock.Now()))
	return affected(res, err, "conversation")
}

// TouchInbound records a contact's message: the active channel becomes the
// one they wrote on, and a message after an agent message starts a new
// session. It returns the updated conversation.
func (q *Queries) TouchInbound(ctx context.Context, tenantID, id, channelID string, at time.Time) (parley.Conversation, error) {
	c, err := scanConversation(q.q.QueryRowContext(ctx, `UPDATE conversations SET
		session_started_at = CASE WHEN last_agent_message_at IS NOT NULL AND (last_customer_message_at IS NULL OR last_agent_message_at > last_customer_message_at)
			THEN $4 ELSE session_started_at END,
		last_customer_message_at = $4, channel_id = $3, updated_at = $4
		WHERE tenant_id = $1 AND id = $2 RETURNING `+conversationCols, tenantID, id, nullString(channelID), micros(at)))
	if err != nil {
		return c, fmt.Errorf("touch inbound: %w", rowErr(err, "conversation"))
	}
	return c, nil
}

// TouchOutbound records an agent (AI or human) message at the given time.
func (q *Queries) TouchOutbound(ctx context.Context, tenantID, id string, at time.Time) error {
	res, err := q.q.ExecContext(ctx, `UPDATE conversations SET last_agent_message_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2`,
		tenantID, id, micros(at))
	return affected(res, err, "conversation")
}

const messageCols = `id, tenant_id, conversation_id, role, type, content, channel_id, channel_message_id, status, error_code, error_reason, template, extra, created_at`

func scanMessage(row interface{ Scan(...any) error }) (parley.Message, error) {
	var m parley.Message
	var channelID, channelMsgID, template, extra sql.NullString
	var created int64
	if err := row.Scan(&m.ID, &m.TenantID, &m.ConversationID, &m.Role, &m.Type, &m.Content, &channelID, &channelMsgID, &m.Status,
		&m.ErrorCode, &m.ErrorReason, &template, &extra, &created); err != nil {
		return m, err
	}
	m.ChannelID, m.ChannelMessageID, m.CreatedAt = channelID.String, channelMsgID.String, fromMicros(created)
	if template.Valid {
		m.Template = &parley.Template{}
		if err := decodeJSON(template.String, m.Template); err != nil {
			return m, err
		}
	}
	if extra.Valid {
		if err := decodeJSON(extra.String, &m.Extra); err != nil {
			return m, err
		}
	}
	return m, nil
}

// ErrDuplicate is returned when a provider message id was already stored.
var ErrDuplicate = errors.New("duplicate message")

// InsertMessage stores a message. A channel message id already stored for
// the channel gives ErrDuplicate and changes nothing.
func (q *Queries) InsertMessage(ctx context.Context, m parley.Message) (parley.Message, error) {
	m.ID = newID()
	if m.CreatedAt.IsZero() {
		m.CreatedAt = q.clock.Now()
	}
	if m.Type == "" {
		m.Type = parley.MessageText
	}
	var template, extra sql.NullString
	if m.Template != nil {
		template = sql.NullString{String: encodeJSON(m.Template), Valid: true}
	}
	if m.Extra != nil {
		extra = sql.NullString{String: encodeJSON(m.Extra), Valid: true}
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO messages (`+messageCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		m.ID, m.TenantID, m.ConversationID, m.Role, m.Type, m.Content, nullString(m.ChannelID), nullString(m.ChannelMessageID), m.Status,
		m.ErrorCode, m.ErrorReason, template, extra, micros(m.CreatedAt))
	if isUniqueViolation(err) {
		return m, ErrDuplicate
	}
	if err != nil {
		return m, fmt.Errorf("insert message: %w", err)
	}
	return m, nil
}

// GetMessage returns one of the tenant's messages.
func (q *Queries) GetMessage(ctx context.Context, tenantID, id string) (parley.Message, error) {
	m, err := scanMessage(q.q.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return m, rowErr(err, "message")
}

// MessageByChannelID finds a message by its provider id on a channel.
func (q *Queries) MessageByChannelID(ctx context.Context, channelID, channelMessageID string) (parley.Message, error) {
	m, err := scanMessage(q.q.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE channel_id = $1 AND channel_message_id = $2`, channelID, channelMessageID))
	return m, rowErr(err, "message")
}

// ListMessages pages through a conversation's messages, oldest first.
func (q *Queries) ListMessages(ctx context.Context, tenantID, conversationID string, p Page) ([]parley.Message, string, error) {
	return list(ctx, q, p, scanMessage, func(m parley.Message) string { return m.ID },
		`SELECT `+messageCols+` FROM messages WHERE tenant_id = $1 AND conversation_id = $4 AND id > $2 ORDER BY id LIMIT $3`, tenantID, conversationID)
}

// RecentMessages returns the conversation's last n messages, oldest first.
func (q *Queries) RecentMessages(ctx context.Context, tenantID, conversationID string, n int) ([]parley.Message, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+messageCols+` FROM messages WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY id DESC LIMIT $3`,
		tenantID, conversationID, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []parley.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, rows.Err()
}

// MessageUpdate is what a send attempt or a status receipt learned.
type MessageUpdate struct {
	ChannelMessageID string // set once the provider accepted the message
	Status           parley.DeliveryStatus
	ErrorCode        string
	ErrorReason      string
}

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
// statements per event. Reads of the log in the same transaction see it.
func (q *Queries) AppendEvent(ctx context.Context, tenantID, conversationID, name string, payload event.Payload) (parley.Event, error) {
	e := parley.Event{ID: newID(), TenantID: tenantID, ConversationID: conversationID, Name: name, CreatedAt: q.clock.Now()}
	if !event.Check(name, payload) {
		return e, fmt.Errorf("append event %s: payload %T is not one of its catalog", name, payload)
	}
	body := encodeJSON(payload)
	_ = decodeJSON(body, &e.Payload)
	if q.events != nil {
		*q.events = append(*q.events, pendingEvent{e: e, body: body})
		return e, nil
	}
	return e, q.writeEvents(ctx, []pendingEvent{{e: e, body: body}})
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

// ListEvents pages through a conversation's log, oldest first.
func (q *Queries) ListEvents(ctx context.Context, tenantID, conversationID string, p Page) ([]parley.Event, string, error) {
	if err := q.flushEvents(ctx); err != nil {
		return nil, "", err
	}
	return list(ctx, q, p, scanEvent, func(e parley.Event) string { return e.ID },
		`SELECT `+eventCols+` FROM conversation_events WHERE tenant_id = $1 AND conversation_id = $4 AND id > $2 ORDER BY id LIMIT $3`, tenantID, conversationID)
}

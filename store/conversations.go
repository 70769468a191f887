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
	return page(ctx, q, p.Limit, scanConversation, func(c parley.Conversation) string { return c.ID }, query, b.args...)
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

// ConversationByID finds a conversation by id alone, for jobs whose payload
// names only the conversation (Follow-Up Request).
func (q *Queries) ConversationByID(ctx context.Context, id string) (parley.Conversation, error) {
	c, err := scanConversation(q.q.QueryRowContext(ctx, `SELECT `+conversationCols+` FROM conversations WHERE id = $1`, id))
	return c, rowErr(err, "conversation")
}

// ConversationsByID loads conversations by id in one statement.
func (q *Queries) ConversationsByID(ctx context.Context, ids []string) (map[string]parley.Conversation, error) {
	out := map[string]parley.Conversation{}
	if len(ids) == 0 {
		return out, nil
	}
	var args []any
	rows, err := q.q.QueryContext(ctx, `SELECT `+conversationCols+` FROM conversations WHERE id IN (`+sendPlaceholders(&args, ids)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("load conversations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, fmt.Errorf("load conversations: %w", err)
		}
		out[c.ID] = c
	}
	return out, rows.Err()
}

// ConversationsByIDs returns the tenant's conversations with the given ids, keyed by id.
func (q *Queries) ConversationsByIDs(ctx context.Context, tenantID string, ids []string) (map[string]parley.Conversation, error) {
	out := map[string]parley.Conversation{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.q.QueryContext(ctx, `SELECT `+conversationCols+` FROM conversations WHERE tenant_id = $1 AND id IN (`+inList(2, len(ids))+`)`, idArgs(tenantID, ids)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, err
		}
		out[c.ID] = c
	}
	return out, rows.Err()
}

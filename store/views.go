package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"github.com/parleyhq/parley"
)

// This file holds read queries that list screens need to show a page of
// rows at once (the dashboard's inbox) without one query per row.

// inList returns "$start, $start+1, …" for n placeholders.
func inList(start, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(start+i))
	}
	return b.String()
}

func idArgs(tenantID string, ids []string) []any {
	args := make([]any, 0, len(ids)+1)
	args = append(args, tenantID)
	for _, id := range ids {
		args = append(args, id)
	}
	return args
}

// LastMessages returns the latest message of each of the tenant's
// conversations named, keyed by conversation id. Conversations without
// messages are absent.
func (q *Queries) LastMessages(ctx context.Context, tenantID string, conversationIDs []string) (map[string]parley.Message, error) {
	out := map[string]parley.Message{}
	if len(conversationIDs) == 0 {
		return out, nil
	}
	// Message ids are time-ordered, so the greatest id is the latest.
	rows, err := q.q.QueryContext(ctx, `SELECT `+messageCols+` FROM messages m WHERE m.tenant_id = $1 AND m.conversation_id IN (`+inList(2, len(conversationIDs))+`)
		AND m.id = (SELECT MAX(l.id) FROM messages l WHERE l.conversation_id = m.conversation_id)`, idArgs(tenantID, conversationIDs)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out[m.ConversationID] = m
	}
	return out, rows.Err()
}

// CustomersByIDs returns the tenant's customers with the given ids, keyed by id.
func (q *Queries) CustomersByIDs(ctx context.Context, tenantID string, ids []string) (map[string]parley.Customer, error) {
	out := map[string]parley.Customer{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.q.QueryContext(ctx, `SELECT `+customerCols+` FROM customers WHERE tenant_id = $1 AND id IN (`+inList(2, len(ids))+`)`, idArgs(tenantID, ids)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanCustomer(rows)
		if err != nil {
			return nil, err
		}
		out[c.ID] = c
	}
	return out, rows.Err()
}

// DocumentCategories lists the distinct categories of the tenant's documents.
func (q *Queries) DocumentCategories(ctx context.Context, tenantID string) ([]string, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT DISTINCT category FROM documents WHERE tenant_id = $1 ORDER BY category LIMIT 500`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ListAPIKeysPage pages through the tenant's API keys, revoked ones included.
func (q *Queries) ListAPIKeysPage(ctx context.Context, tenantID string, p Page) ([]parley.APIKey, string, error) {
	return list(ctx, q, p, scanAPIKey, func(k parley.APIKey) string { return k.ID },
		`SELECT id, tenant_id, name, prefix, created_at, revoked_at FROM api_keys WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID)
}

func scanAPIKey(row interface{ Scan(...any) error }) (parley.APIKey, error) {
	var k parley.APIKey
	var created int64
	var revoked sql.NullInt64
	err := row.Scan(&k.ID, &k.TenantID, &k.Name, &k.Prefix, &created, &revoked)
	k.CreatedAt, k.RevokedAt = fromMicros(created), fromNullMicros(revoked)
	return k, err
}

// OpenTicketsFor returns the open tickets of the tenant's conversations
// named, keyed by conversation id (a conversation has at most one).
func (q *Queries) OpenTicketsFor(ctx context.Context, tenantID string, conversationIDs []string) (map[string]parley.Ticket, error) {
	out := map[string]parley.Ticket{}
	if len(conversationIDs) == 0 {
		return out, nil
	}
	rows, err := q.q.QueryContext(ctx, `SELECT `+ticketCols+` FROM tickets WHERE tenant_id = $1 AND status = 'open' AND conversation_id IN (`+
		inList(2, len(conversationIDs))+`)`, idArgs(tenantID, conversationIDs)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, err
		}
		out[t.ConversationID] = t
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

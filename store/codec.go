package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/parleyhq/parley"
)

// micros stores a time as Unix microseconds, the one time format of the schema.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// nullString maps "" to NULL, for optional unique columns.
func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// newID returns a time-ordered UUID (v7), so ids sort by creation and
// keyset pagination by id follows creation order.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// IsUUID reports whether s is a UUID in canonical form.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

func encodeJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own map/slice types reach here; they always marshal.
		panic(fmt.Sprintf("store: encode json: %v", err))
	}
	return string(b)
}

func decodeJSON[T any](s string, into *T) error {
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), into); err != nil {
		return fmt.Errorf("decode stored json: %w", err)
	}
	return nil
}

// notFound wraps parley.ErrNotFound with what was looked for.
func notFound(what string) error {
	return &parley.Error{Code: parley.CodeNotFound, Message: what + " not found"}
}

// rowErr turns sql.ErrNoRows into a typed not-found error.
func rowErr(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(what)
	}
	return err
}

// Page asks for one page of a list, by keyset: items after Cursor (an id).
type Page struct {
	Limit  int
	Cursor string
}

// normalize clamps the page size to 1..200, default 50.
func (p Page) normalize() Page {
	if p.Limit <= 0 {
		p.Limit = 50
	}
	if p.Limit > 200 {
		p.Limit = 200
	}
	return p
}

// nextCursor returns the cursor for the page after items, or "" at the end.
func nextCursor[T any](items []T, limit int, id func(T) string) ([]T, string) {
	if len(items) > limit {
		items = items[:limit]
		return items, id(items[len(items)-1])
	}
	return items, ""
}

// list runs a keyset-paged query. The query's $1 is the tenant id, $2 the
// cursor, $3 the limit; extra arguments follow as $4….
func list[T any](ctx context.Context, q *Queries, p Page, scan func(interface{ Scan(...any) error }) (T, error), id func(T) string, query, tenantID string, extra ...any) ([]T, string, error) {
	p = p.normalize()
	return page(ctx, q, p.Limit, scan, id, query, append([]any{tenantID, p.Cursor, p.Limit + 1}, extra...)...)
}

// page runs a query that asks for limit+1 rows, newest first, and returns
// at most limit of them with the cursor of the next page ("" on the last).
func page[T any](ctx context.Context, q *Queries, limit int, scan func(interface{ Scan(...any) error }) (T, error), id func(T) string, query string, args ...any) ([]T, string, error) {
	rows, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	items := []T{}
	for rows.Next() {
		item, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		items = append(items, item)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	items, next := nextCursor(items, limit, id)
	return items, next, nil
}

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

// extraScan scans a row's trailing columns into extra, after the ones a
// scan function knows.
type extraScan struct {
	row   interface{ Scan(...any) error }
	extra []any
}

func (e extraScan) Scan(dest ...any) error { return e.row.Scan(append(dest, e.extra...)...) }

// prefixCols qualifies each of a comma-separated column list with p.
func prefixCols(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

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

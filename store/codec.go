package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
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

package store

import (
	"context"
	"database/sql"
)

// Query runs a read-only query that another package writes for this
// engine (see Engine): the knowledge package owns its SQLite FTS5 and
// PostgreSQL full-text SQL. Writes stay in this package's methods.
func (q *Queries) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return q.q.QueryContext(ctx, query, args...)
}

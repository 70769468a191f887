package store

import (
	"context"
	"fmt"
	"strings"
)

// Match is a document a full-text search found, with the engine's rank
// (higher is better; compare only within one result).
type Match struct {
	DocumentID, Title, Body, Category string
	Rank                              float64
}

// SearchDocuments ranks the tenant's documents that hold any of terms
// (letters and digits only, from knowledge.Terms), best first, up to
// limit, leaving out the categories in exclude and empty documents: FTS5
// with bm25 on SQLite (title matches weigh twice the body's), the
// generated tsvector column with ts_rank on PostgreSQL (migration 0021).
func (q *Queries) SearchDocuments(ctx context.Context, tenantID string, terms []string, exclude [2]string, limit int) ([]Match, error) {
	if len(terms) == 0 {
		return nil, nil
	}
	var query, match string
	if q.engine == Postgres {
		match = strings.Join(terms, " | ")
		query = `SELECT id, title, body, category, ts_rank(search, query)::float8 AS score
		FROM documents, to_tsquery('english', $1) AS query
		WHERE tenant_id = $2 AND search @@ query AND body <> '' AND category NOT IN ($3, $4)
		ORDER BY score DESC, id LIMIT $5`
	} else {
		quoted := make([]string, len(terms))
		for i, t := range terms {
			quoted[i] = `"` + t + `"` // quoting keeps FTS5 syntax out
		}
		match = strings.Join(quoted, " OR ")
		// bm25 is lower-is-better.
		query = `SELECT d.id, d.title, d.body, d.category, -bm25(documents_fts, 0, 0, 2.0, 1.0) AS score
		FROM documents_fts JOIN documents d ON d.id = documents_fts.doc_id
		WHERE documents_fts MATCH $1 AND documents_fts.tenant_id = $2 AND d.tenant_id = $2
		  AND d.body <> '' AND d.category NOT IN ($3, $4)
		ORDER BY score DESC, d.id LIMIT $5`
	}
	rows, err := q.q.QueryContext(ctx, query, match, tenantID, exclude[0], exclude[1], limit)
	if err != nil {
		return nil, fmt.Errorf("search documents: %w", err)
	}
	defer rows.Close()
	var out []Match
	for rows.Next() {
		var m Match
		if err := rows.Scan(&m.DocumentID, &m.Title, &m.Body, &m.Category, &m.Rank); err != nil {
			return nil, fmt.Errorf("search documents: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

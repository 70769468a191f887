package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/parleyhq/parley"
)

const documentCols = `id, tenant_id, title, body, category, source, created_at, updated_at, provenance`

func scanDocument(row interface{ Scan(...any) error }) (parley.Document, error) {
	var d parley.Document
	var created, updated int64
	var provenance string
	err := row.Scan(&d.ID, &d.TenantID, &d.Title, &d.Body, &d.Category, &d.Source, &created, &updated, &provenance)
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	if err == nil && provenance != "" {
		d.Provenance = new(parley.DocumentProvenance)
		err = decodeJSON(provenance, d.Provenance)
	}
	return d, err
}

func encodeProvenance(p *parley.DocumentProvenance) string {
	if p == nil {
		return ""
	}
	return encodeJSON(p)
}

// CreateDocument stores a knowledge document.
func (q *Queries) CreateDocument(ctx context.Context, d parley.Document) (parley.Document, error) {
	now := q.clock.Now()
	d.ID, d.CreatedAt, d.UpdatedAt = newID(), now, now
	if d.Source == "" {
		d.Source = "manual"
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO documents (`+documentCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		d.ID, d.TenantID, d.Title, d.Body, d.Category, d.Source, micros(d.CreatedAt), micros(d.UpdatedAt), encodeProvenance(d.Provenance))
	if err != nil {
		return d, fmt.Errorf("create document: %w", err)
	}
	return d, nil
}

// GetDocument returns one of the tenant's documents.
func (q *Queries) GetDocument(ctx context.Context, tenantID, id string) (parley.Document, error) {
	d, err := scanDocument(q.q.QueryRowContext(ctx, `SELECT `+documentCols+` FROM documents WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return d, rowErr(err, "document")
}

// ListDocuments pages through the tenant's documents, optionally of one category.
func (q *Queries) ListDocuments(ctx context.Context, tenantID, category string, p Page) ([]parley.Document, string, error) {
	if category == "" {
		return list(ctx, q, p, scanDocument, func(d parley.Document) string { return d.ID },
			`SELECT `+documentCols+` FROM documents WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID)
	}
	return list(ctx, q, p, scanDocument, func(d parley.Document) string { return d.ID },
		`SELECT `+documentCols+` FROM documents WHERE tenant_id = $1 AND category = $4 AND id > $2 ORDER BY id LIMIT $3`, tenantID, category)
}

// UpdateDocument saves a document's title, body, category and source.
func (q *Queries) UpdateDocument(ctx context.Context, d parley.Document) (parley.Document, error) {
	d.UpdatedAt = q.clock.Now()
	res, err := q.q.ExecContext(ctx, `UPDATE documents SET title = $3, body = $4, category = $5, source = $6, updated_at = $7 WHERE tenant_id = $1 AND id = $2`,
		d.TenantID, d.ID, d.Title, d.Body, d.Category, d.Source, micros(d.UpdatedAt))
	if err := affected(res, err, "document"); err != nil {
		return d, err
	}
	return q.GetDocument(ctx, d.TenantID, d.ID)
}

// SetDocumentProvenance records which answer wrote the document.
// UpdateDocument leaves it alone: an edit by hand keeps it.
func (q *Queries) SetDocumentProvenance(ctx context.Context, tenantID, id string, p *parley.DocumentProvenance) error {
	res, err := q.q.ExecContext(ctx, `UPDATE documents SET provenance = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, id, encodeProvenance(p))
	return affected(res, err, "document")
}

// DeleteDocument removes a document.
func (q *Queries) DeleteDocument(ctx context.Context, tenantID, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM documents WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return affected(res, err, "document")
}

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

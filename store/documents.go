package store

import (
	"context"
	"fmt"

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

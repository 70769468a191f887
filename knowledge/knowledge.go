// Package knowledge finds the passages of a tenant's knowledge base that
// answer a customer's message: full-text search (SQLite FTS5, PostgreSQL
// tsvector) behind one Retriever, and a measure of how well a passage
// covers the question, which decides whether the offline mode may answer
// with it.
package knowledge

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// Passage is a document retrieved for a query.
type Passage struct {
	DocumentID string  `json:"document_id"`
	Title      string  `json:"title"`
	Body       string  `json:"body"`
	Category   string  `json:"category"`
	Rank       float64 `json:"rank"` // the engine's relevance, higher is better; compare only within one result
	// Coverage is the share (0–1) of the query's terms the document holds.
	Coverage float64 `json:"coverage"`
	// Excerpt is the document's paragraph that covers the query best: what
	// the offline mode sends.
	Excerpt string `json:"excerpt"`
}

// MinCoverage is the confidence bar of the offline mode: a passage answers
// on its own only when it holds at least this share of the question's
// content words (after stop words are dropped and words are stemmed).
// "What are your opening hours?" has two content words, so a document
// about opening hours (2/2) answers, one that only says "hours" (1/2) does not.
const MinCoverage = 0.6

// Confident reports whether p may be sent as the answer without a model.
func (p Passage) Confident() bool { return p.Coverage >= MinCoverage }

// Categories that are not answers: they steer the flow (the AI agent's
// persona, support classification) and are never retrieved.
const (
	CategoryPersona = "Persona"
)

var excluded = [2]string{CategoryPersona, parley.CategorySupportClassification}

// Retriever finds a tenant's passages for a text, best first.
type Retriever interface {
	Retrieve(ctx context.Context, q *store.Queries, tenantID, text string, limit int) ([]Passage, error)
}

// New returns the full-text retriever for the engine.
func New(engine store.Engine) Retriever {
	if engine == store.Postgres {
		return postgres{}
	}
	return sqlite{}
}

// candidates is how many documents the engine ranks before coverage re-ranks them.
const candidates = 8

// finish scores candidates by coverage, keeps the engine's order among
// equals, and cuts to limit.
func finish(terms []string, ps []Passage, limit int) []Passage {
	for i := range ps {
		ps[i].Coverage = coverage(terms, ps[i].Title+"\n"+ps[i].Body)
		ps[i].Excerpt = bestParagraph(terms, ps[i].Body)
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Coverage > ps[j].Coverage })
	if len(ps) > limit {
		ps = ps[:limit]
	}
	return ps
}

// scanPassages reads id, title, body, category, rank rows.
func scanPassages(ctx context.Context, q *store.Queries, query string, args ...any) ([]Passage, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("knowledge search: %w", err)
	}
	defer rows.Close()
	var out []Passage
	for rows.Next() {
		var p Passage
		if err := rows.Scan(&p.DocumentID, &p.Title, &p.Body, &p.Category, &p.Rank); err != nil {
			return nil, fmt.Errorf("knowledge search: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// sqlite searches the FTS5 index (migration 0021).
type sqlite struct{}

func (sqlite) Retrieve(ctx context.Context, q *store.Queries, tenantID, text string, limit int) ([]Passage, error) {
	terms := Terms(text)
	if len(terms) == 0 {
		return nil, nil
	}
	quoted := make([]string, len(terms))
	for i, t := range terms {
		quoted[i] = `"` + t + `"` // terms are letters and digits only; quoting keeps FTS5 syntax out
	}
	// bm25 is lower-is-better; title matches weigh twice the body's.
	ps, err := scanPassages(ctx, q, `SELECT d.id, d.title, d.body, d.category, -bm25(documents_fts, 0, 0, 2.0, 1.0) AS score
		FROM documents_fts JOIN documents d ON d.id = documents_fts.doc_id
		WHERE documents_fts MATCH $1 AND documents_fts.tenant_id = $2 AND d.tenant_id = $2
		  AND d.body <> '' AND d.category NOT IN ($3, $4)
		ORDER BY score DESC, d.id LIMIT $5`,
		strings.Join(quoted, " OR "), tenantID, excluded[0], excluded[1], candidates)
	if err != nil {
		return nil, err
	}
	return finish(terms, ps, limit), nil
}

// postgres searches the generated tsvector column (migration 0021).
type postgres struct{}

func (postgres) Retrieve(ctx context.Context, q *store.Queries, tenantID, text string, limit int) ([]Passage, error) {
	terms := Terms(text)
	if len(terms) == 0 {
		return nil, nil
	}
	ps, err := scanPassages(ctx, q, `SELECT id, title, body, category, ts_rank(search, query)::float8 AS score
		FROM documents, to_tsquery('english', $1) AS query
		WHERE tenant_id = $2 AND search @@ query AND body <> '' AND category NOT IN ($3, $4)
		ORDER BY score DESC, id LIMIT $5`,
		strings.Join(terms, " | "), tenantID, excluded[0], excluded[1], candidates)
	if err != nil {
		return nil, err
	}
	return finish(terms, ps, limit), nil
}

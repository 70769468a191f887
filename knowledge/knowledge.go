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

// New returns the full-text retriever (the store runs the engine's own
// search).
func New() Retriever { return fullText{} }

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

// fullText is the store's full-text search (SQLite FTS5 or PostgreSQL
// tsvector), re-ranked by coverage.
type fullText struct{}

func (fullText) Retrieve(ctx context.Context, q *store.Queries, tenantID, text string, limit int) ([]Passage, error) {
	terms := Terms(text)
	if len(terms) == 0 {
		return nil, nil
	}
	ms, err := q.SearchDocuments(ctx, tenantID, terms, excluded, candidates)
	if err != nil {
		return nil, fmt.Errorf("knowledge search: %w", err)
	}
	ps := make([]Passage, len(ms))
	for i, m := range ms {
		ps[i] = Passage{DocumentID: m.DocumentID, Title: m.Title, Body: m.Body, Category: m.Category, Rank: m.Rank}
	}
	return finish(terms, ps, limit), nil
}

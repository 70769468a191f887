package dashboard

import (
	"net/http"
	"regexp"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// The knowledge base: documents by category, created and edited by hand,
// and searched as the AI agent would (knowledge_search.go).

func (d *Dashboard) knowledgePage() Page {
	return Page{Name: "Knowledge base", Path: "/knowledge", Routes: func(rt Routes) {
		rt.Get("/knowledge", d.documents)
		rt.Get("/knowledge/search", d.searchKnowledge)
		rt.Get("/knowledge/new", d.documentForm)
		rt.Post("/knowledge/new", d.saveDocument)
		rt.Get("/knowledge/{id}", d.documentForm)
		rt.Post("/knowledge/{id}", d.saveDocument)
		rt.Post("/knowledge/{id}/delete", d.deleteDocument)
	}}
}

type documentsData struct {
	Docs       []parley.Document
	Categories []string
	Category   string
	Pager      Pager
}

func (d *Dashboard) documents(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	q := r.URL.Query()
	data := documentsData{Category: q.Get("category")}
	cats, err := d.store.DocumentCategories(ctx, s.TenantID)
	if err != nil {
		return err
	}
	data.Categories = cats
	docs, next, err := d.store.ListDocuments(ctx, s.TenantID, data.Category, store.Page{Limit: listSize, Cursor: q.Get("cursor")})
	if err != nil {
		return err
	}
	data.Docs, data.Pager = docs, pager(r, "cursor", next)
	return d.render(w, r, s, http.StatusOK, "knowledge", data)
}

type documentData struct {
	ID         string // "" for a new document
	Form       *Form
	Categories []string
}

var categoryPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9 _-]*$`)

func (d *Dashboard) documentForm(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	data := documentData{ID: r.PathValue("id"), Form: newForm()}
	if data.ID != "" {
		doc, err := d.store.GetDocument(ctx, s.TenantID, data.ID)
		if err != nil {
			return err
		}
		data.Form.Values = map[string]string{"title": doc.Title, "body": doc.Body, "category": doc.Category}
	} else {
		data.Form.Values["category"] = r.URL.Query().Get("category")
	}
	cats, err := d.store.DocumentCategories(ctx, s.TenantID)
	if err != nil {
		return err
	}
	data.Categories = cats
	return d.render(w, r, s, http.StatusOK, "document", data)
}

func (d *Dashboard) saveDocument(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	data := documentData{ID: r.PathValue("id"), Form: readForm(r, "title", "body", "category")}
	var doc parley.Document
	if data.ID != "" {
		var err error
		if doc, err = d.store.GetDocument(ctx, s.TenantID, data.ID); err != nil {
			return err
		}
	}
	f := data.Form
	f.Require(200, "title")
	f.Require(50000, "body")
	f.Require(64, "category")
	if c := f.Get("category"); c != "" && !categoryPattern.MatchString(c) {
		f.Fail("category", "Use letters, digits, spaces, _ or -, starting with a letter.")
	}
	if f.OK() {
		doc.TenantID, doc.Title, doc.Body, doc.Category = s.TenantID, f.Get("title"), f.Get("body"), f.Get("category")
		var err error
		if data.ID == "" {
			_, err = d.store.CreateDocument(ctx, doc)
		} else {
			_, err = d.store.UpdateDocument(ctx, doc)
		}
		if err == nil {
			return redirect(w, r, "/knowledge?category="+urlQueryEscape(doc.Category))
		}
		if !f.Absorb(err, "title") {
			return err
		}
	}
	cats, err := d.store.DocumentCategories(ctx, s.TenantID)
	if err != nil {
		return err
	}
	data.Categories = cats
	return d.render(w, r, s, http.StatusUnprocessableEntity, "document", data)
}

func (d *Dashboard) deleteDocument(w http.ResponseWriter, r *http.Request, s *Session) error {
	if err := d.store.DeleteDocument(r.Context(), s.TenantID, r.PathValue("id")); err != nil {
		return err
	}
	return redirect(w, r, "/knowledge")
}

package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// The search shows what the AI agent would be given, and what the offline
// mode would do with it: answer with a confident passage, or escalate.
func TestKnowledgeSearchAsTheAIRetrieves(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, nil)
	tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	other := e.tenantWithUser("Bolt", "bo@bolt.test", parley.UserAdmin)
	ctx := context.Background()
	docs := []parley.Document{
		{TenantID: tn.ID, Title: "Public holidays", Category: "FAQ", Body: "Our stores open on public holidays from 10:00 to 14:00.\n\nDeliveries pause on holidays."},
		{TenantID: tn.ID, Title: "Opening hours", Category: "FAQ", Body: "Monday to Saturday, 9:00 to 18:00."},
		{TenantID: tn.ID, Title: "Voice", Category: "Persona", Body: "You are cheerful and talk about public holidays a lot."},
		{TenantID: other.ID, Title: "Bolt holidays", Category: "FAQ", Body: "Bolt opens on public holidays at noon."},
	}
	var holiday parley.Document
	for i, d := range docs {
		got, err := e.st.CreateDocument(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			holiday = got
		}
	}
	b := e.browser()
	b.mustSignIn("ana@acme.test")
	if p := b.get("/knowledge"); !strings.Contains(p.Body, `action="/knowledge/search"`) {
		t.Fatal("the knowledge page has no search box")
	}

	p := b.get("/knowledge/search?q=" + url.QueryEscape("Are you open on public holidays?"))
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="offline-answer"`) ||
		!strings.Contains(p.Body, `<blockquote class="answer">Our stores open on public holidays from 10:00 to 14:00.</blockquote>`) {
		t.Fatalf("a covered question: %d\n%s", p.Status, p.Body)
	}
	first := regexpFind(t, p.Body, `(?s)<li class="card passage" data-document="([^"]+)" data-confident="true">`)
	if first != holiday.ID {
		t.Errorf("the first passage is %s, want the public holidays document", first)
	}
	if strings.Contains(p.Body, "Bolt") || strings.Contains(p.Body, "cheerful") {
		t.Error("the search shows another tenant's document or a Persona document")
	}
	for _, w := range []string{"<code>open</code>", "<code>public</code>", "<code>holidays</code>"} {
		if !strings.Contains(p.Body, w) {
			t.Errorf("the searched words lack %s", w)
		}
	}

	// One word of three: retrieved, but not confident enough to answer alone.
	p = b.get("/knowledge/search?q=" + url.QueryEscape("Do you deliver gift cards on weekends?"))
	if !strings.Contains(p.Body, `id="offline-ticket"`) || strings.Contains(p.Body, `id="offline-answer"`) || !strings.Contains(p.Body, `data-confident="false"`) {
		t.Fatalf("an uncovered question does not escalate:\n%s", p.Body)
	}
	if p := b.get("/knowledge/search?q=" + strings.Repeat("a", 5000)); p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "Too long (at most 4096 characters).") {
		t.Fatalf("a too long query: %d", p.Status)
	}
}

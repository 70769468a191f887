package knowledge_test

import (
	"context"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/knowledge"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

func seed(t *testing.T, s *store.Store, tenantID string, docs ...parley.Document) []parley.Document {
	t.Helper()
	var out []parley.Document
	for _, d := range docs {
		d.TenantID = tenantID
		d, err := s.CreateDocument(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func TestRetrieveRanksCoversAndIsScopedOnBothEngines(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acme, _ := s.CreateTenant(ctx, parley.Tenant{Name: "Acme"})
		other, _ := s.CreateTenant(ctx, parley.Tenant{Name: "Other"})
		docs := seed(t, s, acme.ID,
			parley.Document{Title: "Opening hours", Body: "We are open Monday to Friday, 9:00 to 18:00.\n\nOn public holidays the shop is closed.", Category: "FAQ"},
			parley.Document{Title: "Refunds", Body: "Refunds are paid back to the original card within 5 working days.", Category: "FAQ"},
			parley.Document{Title: "Shipping", Body: "We ship to Portugal and Spain. Shipping is free above 50 euros.", Category: "FAQ"},
			parley.Document{Title: "Persona", Body: "You are Ada, refunds expert and shipping guru.", Category: knowledge.CategoryPersona},
			parley.Document{Title: "Unanswered: do you sell gift cards?", Body: "", Category: parley.CategoryUserQuestion},
		)
		seed(t, s, other.ID, parley.Document{Title: "Refunds", Body: "Other tenant: refunds never, bitcoin only.", Category: "FAQ"})
		r := knowledge.New()

		cases := []struct {
			text      string
			wantDoc   string // "" = nothing retrieved
			confident bool
			excerpt   string
		}{
			{"What are your opening hours?", docs[0].ID, true, "We are open Monday to Friday, 9:00 to 18:00."},
			{"Are you open on public holidays?", docs[0].ID, true, "On public holidays the shop is closed."},
			{"how do refunds work", docs[1].ID, true, "Refunds are paid back to the original card within 5 working days."},
			{"Do you ship to Spain?", docs[2].ID, true, "We ship to Portugal and Spain. Shipping is free above 50 euros."},
			{"Can I pay refunds with bitcoin or gold?", docs[1].ID, false, ""},
			{"hi!", "", false, ""},
			{"quantum entanglement", "", false, ""},
			{`"refunds" OR NEAR(x) * -`, docs[1].ID, false, ""}, // query syntax is not passed through ("near" is a word)
		}
		for _, c := range cases {
			ps, err := r.Retrieve(ctx, s.Queries, acme.ID, c.text, 3)
			if err != nil {
				t.Fatalf("%q: %v", c.text, err)
			}
			for _, p := range ps {
				if p.Category == knowledge.CategoryPersona || p.Body == "" || p.DocumentID == "" {
					t.Errorf("%q: retrieved a passage that is not an answer: %+v", c.text, p)
				}
				if p.Body == "Other tenant: refunds never, bitcoin only." {
					t.Errorf("%q: retrieved another tenant's document", c.text)
				}
			}
			if c.wantDoc == "" {
				if len(ps) > 0 && ps[0].Confident() {
					t.Errorf("%q: want no confident passage, got %+v", c.text, ps[0])
				}
				continue
			}
			if len(ps) == 0 || ps[0].DocumentID != c.wantDoc {
				t.Fatalf("%q: want document %s first, got %+v", c.text, c.wantDoc, ps)
			}
			if ps[0].Confident() != c.confident {
				t.Errorf("%q: confident = %v (coverage %.2f), want %v", c.text, ps[0].Confident(), ps[0].Coverage, c.confident)
			}
			if c.excerpt != "" && ps[0].Excerpt != c.excerpt {
				t.Errorf("%q: excerpt %q, want %q", c.text, ps[0].Excerpt, c.excerpt)
			}
		}
	})
}

func TestIndexFollowsDocumentWritesOnBothEngines(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		tn, _ := s.CreateTenant(ctx, parley.Tenant{Name: "Acme"})
		d := seed(t, s, tn.ID, parley.Document{Title: "Parking", Body: "Free parking behind the store.", Category: "FAQ"})[0]
		r := knowledge.New()
		found := func(text string) bool {
			ps, err := r.Retrieve(ctx, s.Queries, tn.ID, text, 3)
			if err != nil {
				t.Fatal(err)
			}
			return len(ps) > 0 && ps[0].DocumentID == d.ID
		}
		if !found("parking") {
			t.Fatal("a new document is not found")
		}
		d.Body = "Bicycles can be left at the entrance."
		d.Title = "Bicycles"
		if _, err := s.UpdateDocument(ctx, d); err != nil {
			t.Fatal(err)
		}
		if found("parking") || !found("bicycles") {
			t.Fatal("the index did not follow an update")
		}
		// Written inside a transaction, seen by a search in it.
		err := s.InTx(ctx, func(q *store.Queries) error {
			if _, err := q.CreateDocument(ctx, parley.Document{TenantID: tn.ID, Title: "Wifi", Body: "The wifi password is on the receipt."}); err != nil {
				return err
			}
			ps, err := r.Retrieve(ctx, q, tn.ID, "wifi password", 3)
			if err != nil || len(ps) != 1 {
				t.Errorf("in-transaction search: %v %+v", err, ps)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteDocument(ctx, tn.ID, d.ID); err != nil {
			t.Fatal(err)
		}
		if found("bicycles") {
			t.Fatal("a deleted document is still found")
		}
	})
}

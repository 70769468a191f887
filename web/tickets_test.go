package web_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
)

// GET /api/tickets?view=waiting is the queue the dashboard shows: open
// tickets no agent has yet.
func TestTicketsWaitingView(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, p *apptest.Parley) {
		tn, key := p.Tenant("Acme")
		ctx := context.Background()
		var ids []string
		for _, phone := range []string{"+5511999990501", "+5511999990502"} {
			conv, err := p.Store.CreateConversation(ctx, parley.Conversation{TenantID: tn.ID, ContactPhone: phone})
			if err != nil {
				t.Fatal(err)
			}
			tk, err := p.Store.CreateTicket(ctx, parley.Ticket{TenantID: tn.ID, ConversationID: conv.ID, Reason: "help"})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, tk.ID)
		}
		var agent parley.HumanAgent
		// Not available: the assignment job must not take the other ticket
		// from the queue while the test reads it.
		if r := p.Do("POST", "/api/agents", key, map[string]any{"name": "Caio", "available": false}); r.Status != http.StatusCreated {
			t.Fatalf("agent = %d %s", r.Status, r.Body)
		} else {
			r.JSON(t, &agent)
		}
		if r := p.Do("POST", "/api/tickets/"+ids[0]+"/assign", key, map[string]any{"agent_id": agent.ID}); r.Status != http.StatusOK {
			t.Fatalf("assign = %d %s", r.Status, r.Body)
		}
		var page struct{ Items []parley.Ticket }
		r := p.Do("GET", "/api/tickets?view=waiting", key, nil)
		r.JSON(t, &page)
		if r.Status != http.StatusOK || len(page.Items) != 1 || page.Items[0].ID != ids[1] {
			t.Fatalf("waiting view = %d %s, want only %s", r.Status, r.Body, ids[1])
		}
		p.Do("GET", "/api/tickets?view=open", key, nil).JSON(t, &page)
		if len(page.Items) != 2 {
			t.Fatalf("open view has %d tickets, want 2", len(page.Items))
		}
	})
}

package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

func TestOneOpenTicketPerConversationAndRoundRobin(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		tn := newTenant(t, s, "Acme")
		conv, err := s.CreateConversation(ctx, parley.Conversation{TenantID: tn.ID, ContactPhone: "+5511999990000"})
		if err != nil {
			t.Fatal(err)
		}
		tk, err := s.CreateTicket(ctx, parley.Ticket{TenantID: tn.ID, ConversationID: conv.ID, Reason: "help"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateTicket(ctx, parley.Ticket{TenantID: tn.ID, ConversationID: conv.ID}); !errors.Is(err, store.ErrTicketOpen) {
			t.Fatalf("a second open ticket: %v, want ErrTicketOpen", err)
		}
		if _, err := s.NextAgent(ctx, tn.ID); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("no agents: %v", err)
		}
		a, _ := s.CreateAgent(ctx, parley.HumanAgent{TenantID: tn.ID, Name: "A", Available: true})
		b, _ := s.CreateAgent(ctx, parley.HumanAgent{TenantID: tn.ID, Name: "B", Available: true})
		s.CreateAgent(ctx, parley.HumanAgent{TenantID: tn.ID, Name: "Off", Available: false})
		var order []string
		for range 4 {
			next, err := s.NextAgent(ctx, tn.ID)
			if err != nil {
				t.Fatal(err)
			}
			order = append(order, next.Name)
			if _, err := s.AssignTicket(ctx, tn.ID, tk.ID, next.ID, false); err != nil {
				t.Fatal(err)
			}
		}
		if want := []string{"A", "B", "A", "B"}; order[0] != want[0] || order[1] != want[1] || order[2] != want[2] || order[3] != want[3] {
			t.Fatalf("round robin order %v, want %v", order, want)
		}
		if _, err := s.AssignTicket(ctx, tn.ID, tk.ID, a.ID, true); parley.ErrorCode(err) != parley.CodeConflict {
			t.Fatalf("assigning an assigned ticket as waiting: %v, want conflict", err)
		}
		if _, err := s.CloseTicket(ctx, tn.ID, tk.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CloseTicket(ctx, tn.ID, tk.ID); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("closing twice: %v", err)
		}
		// Closed, the conversation may get a new ticket.
		if _, err := s.CreateTicket(ctx, parley.Ticket{TenantID: tn.ID, ConversationID: conv.ID}); err != nil {
			t.Fatalf("a new ticket after closing: %v", err)
		}
		// Deleting an agent puts their tickets back in the queue.
		tk2, _ := s.OpenTicketFor(ctx, tn.ID, conv.ID)
		if _, err := s.AssignTicket(ctx, tn.ID, tk2.ID, b.ID, true); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteAgent(ctx, tn.ID, b.ID); err != nil {
			t.Fatal(err)
		}
		waiting, err := s.WaitingTickets(ctx, tn.ID, 10)
		if err != nil || len(waiting) != 1 || waiting[0].ID != tk2.ID {
			t.Fatalf("waiting after the agent left: %v %+v", err, waiting)
		}
		if ids, _ := s.TenantsWithWaitingTickets(ctx); len(ids) != 1 || ids[0] != tn.ID {
			t.Fatalf("tenants with waiting tickets: %v", ids)
		}
	})
}

func TestAnswerLedgerAcceptsAMessageOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		tn := newTenant(t, s, "Acme")
		conv, _ := s.CreateConversation(ctx, parley.Conversation{TenantID: tn.ID, ContactPhone: "+5511999990000"})
		m, err := s.InsertMessage(ctx, parley.Message{TenantID: tn.ID, ConversationID: conv.ID, Role: parley.RoleCustomer, Content: "hi", Status: parley.StatusReceived})
		if err != nil {
			t.Fatal(err)
		}
		entry := store.Answered{TenantID: tn.ID, ConversationID: conv.ID, MessageID: m.ID, Outcome: store.AnsweredByAI}
		if err := s.MarkAnswered(ctx, entry); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkAnswered(ctx, entry); !errors.Is(err, store.ErrAlreadyAnswered) {
			t.Fatalf("second entry: %v, want ErrAlreadyAnswered", err)
		}
		// The lenient form keeps a transaction usable on both engines.
		err = s.InTx(ctx, func(q *store.Queries) error {
			if err := q.MarkAnsweredIfNew(ctx, entry); err != nil {
				return err
			}
			_, err := q.GetConversation(ctx, tn.ID, conv.ID)
			return err
		})
		if err != nil {
			t.Fatalf("MarkAnsweredIfNew on an answered message: %v", err)
		}
		if ok, err := s.IsAnswered(ctx, tn.ID, m.ID); err != nil || !ok {
			t.Fatalf("IsAnswered: %v %v", ok, err)
		}
	})
}

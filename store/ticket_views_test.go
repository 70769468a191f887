package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// The dashboard's ticket screens: the queue (open, no agent), one agent's
// open tickets, and the open-ticket badge of a page of conversations.
func TestTicketQueueAndBadges(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "Acme"), newTenant(t, s, "Bolt")
		agent, err := s.CreateAgent(ctx, parley.HumanAgent{TenantID: a.ID, Name: "Al", Available: true})
		if err != nil {
			t.Fatal(err)
		}
		var convs []parley.Conversation
		var tickets []parley.Ticket
		for i := range 4 {
			c, err := s.CreateConversation(ctx, parley.Conversation{TenantID: a.ID, ContactPhone: fmt.Sprintf("+55119999900%02d", i)})
			if err != nil {
				t.Fatal(err)
			}
			convs = append(convs, c)
			if i == 3 {
				break // the last conversation has no ticket
			}
			tk, err := s.CreateTicket(ctx, parley.Ticket{TenantID: a.ID, ConversationID: c.ID})
			if err != nil {
				t.Fatal(err)
			}
			tickets = append(tickets, tk)
		}
		// 0 waits, 1 is assigned, 2 is closed.
		if _, err := s.AssignTicket(ctx, a.ID, tickets[1].ID, agent.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CloseTicket(ctx, a.ID, tickets[2].ID); err != nil {
			t.Fatal(err)
		}
		ids := func(ts []parley.Ticket) []string {
			out := []string{}
			for _, t := range ts {
				out = append(out, t.ID)
			}
			return out
		}
		cases := []struct {
			name string
			f    store.TicketFilter
			want []string
		}{
			{"queue", store.TicketFilter{Status: parley.TicketOpen, Unassigned: true}, []string{tickets[0].ID}},
			{"mine", store.TicketFilter{Status: parley.TicketOpen, AgentID: agent.ID}, []string{tickets[1].ID}},
			{"open", store.TicketFilter{Status: parley.TicketOpen}, []string{tickets[0].ID, tickets[1].ID}},
			{"all", store.TicketFilter{}, ids(tickets)},
			{"closed", store.TicketFilter{Status: parley.TicketClosed}, []string{tickets[2].ID}},
		}
		for _, tc := range cases {
			got, _, err := s.ListTickets(ctx, a.ID, tc.f, store.Page{})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(ids(got)) != fmt.Sprint(tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, ids(got), tc.want)
			}
			if other, _, _ := s.ListTickets(ctx, b.ID, tc.f, store.Page{}); len(other) != 0 {
				t.Errorf("%s: another tenant sees %d tickets", tc.name, len(other))
			}
		}

		all := []string{convs[0].ID, convs[1].ID, convs[2].ID, convs[3].ID}
		open, err := s.OpenTicketsFor(ctx, a.ID, all)
		if err != nil {
			t.Fatal(err)
		}
		if len(open) != 2 || open[convs[0].ID].ID != tickets[0].ID || open[convs[1].ID].AgentID != agent.ID {
			t.Fatalf("open tickets by conversation = %+v", open)
		}
		if other, _ := s.OpenTicketsFor(ctx, b.ID, all); len(other) != 0 {
			t.Fatalf("another tenant's open tickets = %+v", other)
		}
		got, err := s.ConversationsByIDs(ctx, a.ID, all[:2])
		if err != nil || len(got) != 2 || got[convs[1].ID].ContactPhone != convs[1].ContactPhone {
			t.Fatalf("conversations by id = %+v, %v", got, err)
		}
		if other, _ := s.ConversationsByIDs(ctx, b.ID, all); len(other) != 0 {
			t.Fatalf("another tenant's conversations = %+v", other)
		}
	})
}

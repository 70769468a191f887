package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// queuedMessage stores a tenant with a WhatsApp channel and an AI
// message queued to a customer, as the send stage finds it.
func queuedMessage(t *testing.T, s *store.Store) (parley.Tenant, parley.Message) {
	t.Helper()
	ctx := context.Background()
	tn := newTenant(t, s, "A")
	ch := newChannel(t, s, tn.ID, "106000000000002")
	conv, err := s.CreateConversation(ctx, parley.Conversation{TenantID: tn.ID, ContactPhone: "+5511999990000", ChannelID: ch.ID})
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.InsertMessage(ctx, parley.Message{TenantID: tn.ID, ConversationID: conv.ID, Role: parley.RoleAI, Content: "hello", ChannelID: ch.ID, Status: parley.StatusQueued})
	if err != nil {
		t.Fatal(err)
	}
	return tn, m
}

func newChannel(t *testing.T, s *store.Store, tenantID, phoneNumberID string) parley.Channel {
	t.Helper()
	ch, err := s.CreateChannel(context.Background(), parley.Channel{TenantID: tenantID, Type: parley.ChannelWhatsApp, Name: "main", PhoneNumberID: phoneNumberID, AccessToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func TestInboxStoresAProviderMessageOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		tn := newTenant(t, s, "A")
		ch := newChannel(t, s, tn.ID, "106000000000002")
		in := store.InboxMessage{TenantID: tn.ID, ChannelID: ch.ID, ProviderMessageID: "wamid.1", Sender: "5511999990000",
			ContactName: "Ana", Type: parley.MessageText, Content: "hi", Extra: map[string]any{"reply_to": "wamid.0"}}

		first, inserted, err := s.InsertInbox(ctx, in)
		if err != nil || !inserted {
			t.Fatalf("first insert = %v, %v", inserted, err)
		}
		if _, inserted, err := s.InsertInbox(ctx, in); err != nil || inserted {
			t.Fatalf("duplicate insert = %v, %v; want not inserted, no error", inserted, err)
		}
		got, err := s.GetInbox(ctx, tn.ID, first.ID)
		if err != nil || got.Content != "hi" || got.Sender != "5511999990000" || got.Extra["reply_to"] != "wamid.0" || got.ProcessedAt != nil {
			t.Fatalf("stored = %+v, %v", got, err)
		}
		if _, err := s.GetInbox(ctx, newTenant(t, s, "B").ID, first.ID); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("another tenant reads the inbox: %v", err)
		}

		ok, err := s.MarkInboxProcessed(ctx, tn.ID, first.ID, "received")
		if err != nil || !ok {
			t.Fatalf("mark = %v, %v", ok, err)
		}
		if ok, _ := s.MarkInboxProcessed(ctx, tn.ID, first.ID, "again"); ok {
			t.Fatal("an inbox message was processed twice")
		}
		got, _ = s.GetInbox(ctx, tn.ID, first.ID)
		if got.ProcessedAt == nil || got.Outcome != "received" {
			t.Fatalf("after processing = %+v", got)
		}
	})
}

// Two webhook transactions racing with the same message: exactly one
// inserts it, the other waits and finds it there, on both engines.
func TestInboxConcurrentDuplicatesInsertOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		tn := newTenant(t, s, "A")
		ch := newChannel(t, s, tn.ID, "106000000000002")
		const racers = 8
		var wg sync.WaitGroup
		results := make(chan bool, racers)
		start := make(chan struct{})
		for range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				err := s.InTx(ctx, func(q *store.Queries) error {
					_, inserted, err := q.InsertInbox(ctx, store.InboxMessage{TenantID: tn.ID, ChannelID: ch.ID, ProviderMessageID: "wamid.race", Type: parley.MessageText})
					results <- inserted
					return err
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		close(results)
		n := 0
		for r := range results {
			if r {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d transactions inserted the message, want 1", n)
		}
		all, _ := s.InboxByChannel(ctx, tn.ID, ch.ID)
		if len(all) != 1 {
			t.Fatalf("%d inbox rows, want 1", len(all))
		}
	})
}

func TestAdvanceMessageDeliveryNeverMovesBack(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		tn, m := queuedMessage(t, s)
		// A status that raced ahead of the send job moves the status; the
		// job's late "sent" then only records the provider id.
		steps := []struct {
			u       store.MessageUpdate
			changed bool
			want    parley.DeliveryStatus
		}{
			{store.MessageUpdate{Status: parley.StatusDelivered}, true, parley.StatusDelivered},
			{store.MessageUpdate{Status: parley.StatusSent, ChannelMessageID: "wamid.OUT"}, false, parley.StatusDelivered},
			{store.MessageUpdate{Status: parley.StatusRead}, true, parley.StatusRead},
			{store.MessageUpdate{Status: parley.StatusDelivered}, false, parley.StatusRead},
			{store.MessageUpdate{Status: parley.StatusFailed, ErrorCode: "131026", ErrorReason: "undeliverable"}, true, parley.StatusFailed},
			{store.MessageUpdate{Status: parley.StatusRead}, false, parley.StatusFailed},
		}
		for i, st := range steps {
			changed, err := s.AdvanceMessageDelivery(ctx, tn.ID, m.ID, st.u)
			if err != nil || changed != st.changed {
				t.Fatalf("step %d: changed = %v, %v; want %v", i, changed, err, st.changed)
			}
			got, _ := s.GetMessage(ctx, tn.ID, m.ID)
			if got.Status != st.want || got.ChannelMessageID != "wamid.OUT" && i >= 1 {
				t.Fatalf("step %d: message = %s %q, want %s with the provider id", i, got.Status, got.ChannelMessageID, st.want)
			}
		}
		got, _ := s.GetMessage(ctx, tn.ID, m.ID)
		if got.ErrorCode != "131026" {
			t.Fatalf("error code = %q", got.ErrorCode)
		}
		if byID, err := s.MessageByChannelID(ctx, m.ChannelID, "wamid.OUT"); err != nil || byID.ID != m.ID {
			t.Fatalf("by provider id = %v, %v", byID.ID, err)
		}
		if changed, _ := s.AdvanceMessageDelivery(ctx, newTenant(t, s, "B").ID, m.ID, store.MessageUpdate{Status: parley.StatusFailed}); changed {
			t.Fatal("another tenant changed the message")
		}
	})
}

func TestPruneInboxKeepsUnprocessed(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
		s := storetest.Open(t, e, clk)
		ctx := context.Background()
		tn := newTenant(t, s, "A")
		ch := newChannel(t, s, tn.ID, "106000000000002")
		done, _, _ := s.InsertInbox(ctx, store.InboxMessage{TenantID: tn.ID, ChannelID: ch.ID, ProviderMessageID: "a", Type: parley.MessageText})
		s.InsertInbox(ctx, store.InboxMessage{TenantID: tn.ID, ChannelID: ch.ID, ProviderMessageID: "b", Type: parley.MessageText})
		s.MarkInboxProcessed(ctx, tn.ID, done.ID, "received")
		clk.Advance(8 * 24 * time.Hour)
		n, err := s.PruneInbox(ctx, clk.Now().Add(-7*24*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("pruned %d, %v; want 1", n, err)
		}
		left, _ := s.InboxByChannel(ctx, tn.ID, ch.ID)
		if len(left) != 1 || left[0].ProviderMessageID != "b" {
			t.Fatalf("left = %+v", left)
		}
	})
}

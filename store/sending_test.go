package store_test

import (
	"context"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// The send job's mark: set only on a queued message without a provider
// id, cleared only by the attempt that set it, and refused once a status
// webhook has recorded the provider id.
func TestSendingMark(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		tn, m := queuedMessage(t, s)
		if _, ok, err := s.SendingMark(ctx, tn.ID, m.ID); ok || err != nil {
			t.Fatalf("a new message has a mark (%v)", err)
		}
		if ok, err := s.MarkSending(ctx, tn.ID, m.ID, "7.1"); !ok || err != nil {
			t.Fatalf("mark = %v, %v", ok, err)
		}
		mark, ok, err := s.SendingMark(ctx, tn.ID, m.ID)
		if !ok || err != nil || mark.Attempt != "7.1" || mark.StartedAt.IsZero() {
			t.Fatalf("mark %+v %v %v", mark, ok, err)
		}
		if err := s.ClearSending(ctx, tn.ID, m.ID, "7.2"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.SendingMark(ctx, tn.ID, m.ID); !ok {
			t.Fatal("another attempt cleared the mark")
		}
		if err := s.ClearSending(ctx, tn.ID, m.ID, "7.1"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.SendingMark(ctx, tn.ID, m.ID); ok {
			t.Fatal("the mark survived its own attempt's clear")
		}
		if _, err := s.AdvanceMessageDelivery(ctx, tn.ID, m.ID, store.MessageUpdate{ChannelMessageID: "wamid.X", Status: parley.StatusSent}); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.MarkSending(ctx, tn.ID, m.ID, "7.2"); ok || err != nil {
			t.Fatalf("marked a message already sent: %v %v", ok, err)
		}
		if _, ok, err := s.SendingMark(ctx, tn.ID, "0190f0f0-0000-7000-8000-000000000000"); ok || parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("mark of a missing message: %v %v", ok, err)
		}
	})
}

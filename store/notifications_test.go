package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

func TestNotificationsAreNumberedAnsweredOnceAndScoped(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		tn := newTenant(t, s, "Acme")
		other := newTenant(t, s, "Other")
		conv, err := s.CreateConversation(ctx, parley.Conversation{TenantID: tn.ID, ContactPhone: "+5511999990000"})
		if err != nil {
			t.Fatal(err)
		}
		mk := func(tenantID string, multiple bool) parley.Notification {
			t.Helper()
			n := parley.Notification{TenantID: tenantID, Type: parley.NotificationQuestion,
				Requested: map[string]string{"question": "Do you ship to Chile?"}, AnswerSchema: map[string]any{"type": "object"}, AllowMultiple: multiple}
			if tenantID == tn.ID {
				n.ConversationID = conv.ID
			}
			n, err := s.CreateNotification(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		first, second, theirs := mk(tn.ID, false), mk(tn.ID, true), mk(other.ID, false)
		if first.Ref != "NOTIF_1" || second.Ref != "NOTIF_2" || theirs.Ref != "NOTIF_1" {
			t.Fatalf("refs %s %s %s, want NOTIF_1, NOTIF_2 and the other tenant's own NOTIF_1", first.Ref, second.Ref, theirs.Ref)
		}
		if _, err := s.GetNotification(ctx, other.ID, first.ID); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("another tenant read a notification: %v", err)
		}

		// Eight answers at once: exactly one wins.
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, lost := 0, 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.AnswerNotification(ctx, tn.ID, first.ID, map[string]string{"answer": "yes " + string(rune('a'+i))}, "api")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, store.ErrNotificationAnswered):
					lost++
				default:
					t.Errorf("answer: %v", err)
				}
			}()
		}
		wg.Wait()
		if won != 1 || lost != 7 {
			t.Fatalf("%d answers won and %d lost, want 1 and 7", won, lost)
		}
		got, err := s.GetNotification(ctx, tn.ID, first.ID)
		if err != nil || got.Status != parley.NotificationAnswered || got.Answers != 1 || got.AnsweredAt == nil || got.Answered["answer"] == "" {
			t.Fatalf("answered notification = %+v, %v", got, err)
		}
		if _, err := s.AnswerNotification(ctx, other.ID, first.ID, map[string]string{"answer": "x"}, "api"); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("another tenant answered: %v", err)
		}

		// A multiple-answer notification takes every answer.
		for i := 1; i <= 2; i++ {
			n, err := s.AnswerNotification(ctx, tn.ID, second.ID, map[string]string{"answer": "ok"}, "api")
			if err != nil || n.Answers != i {
				t.Fatalf("answer %d of a multiple-answer notification: %+v, %v", i, n, err)
			}
		}
		// Delivery is recorded once per answer.
		skipped := store.NotificationDelivery{Via: "none", Status: parley.DeliverySkipped, Reason: "the customer's conversation was deleted"}
		if ok, err := s.MarkNotificationDelivered(ctx, tn.ID, first.ID, 1, skipped); !ok || err != nil {
			t.Fatalf("first delivery: %v %v", ok, err)
		}
		if ok, err := s.MarkNotificationDelivered(ctx, tn.ID, first.ID, 1, store.NotificationDelivery{Via: "template", Status: parley.DeliveryQueued}); ok || err != nil {
			t.Fatalf("a retried delivery was recorded again: %v %v", ok, err)
		}
		if got, _ := s.GetNotification(ctx, tn.ID, first.ID); got.DeliveryStatus != parley.DeliverySkipped || got.DeliveryReason != skipped.Reason || got.DeliveredVia != "none" {
			t.Fatalf("delivery = %+v", got)
		}

		list, _, err := s.ListNotifications(ctx, tn.ID, store.NotificationFilter{Status: parley.NotificationAnswered}, store.Page{})
		if err != nil || len(list) != 2 {
			t.Fatalf("answered list = %d, %v", len(list), err)
		}
		list, _, err = s.ListNotifications(ctx, tn.ID, store.NotificationFilter{Type: parley.NotificationSupport}, store.Page{})
		if err != nil || len(list) != 0 {
			t.Fatalf("support list = %d, %v", len(list), err)
		}
		list, _, err = s.ListNotifications(ctx, tn.ID, store.NotificationFilter{Types: []parley.NotificationType{parley.NotificationSupport, parley.NotificationQuestion}}, store.Page{})
		if err != nil || len(list) != 2 {
			t.Fatalf("list by two types = %d, %v", len(list), err)
		}
	})
}

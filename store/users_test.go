package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

func TestUsersHaveOneAddressAcrossTenants(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "A"), newTenant(t, s, "B")
		u, err := s.CreateUser(ctx, parley.User{TenantID: a.ID, Email: " Ana@Example.com ", Name: "Ana", Role: parley.UserAdmin, PasswordHash: "h"})
		if err != nil || u.Email != "ana@example.com" {
			t.Fatalf("create = %+v, %v", u, err)
		}
		if _, err := s.CreateUser(ctx, parley.User{TenantID: b.ID, Email: "ANA@example.com", Name: "Other", Role: parley.UserAgent, PasswordHash: "h"}); parley.ErrorCode(err) != parley.CodeConflict {
			t.Fatalf("same address in another tenant: %v, want conflict", err)
		}
		got, err := s.UserByEmail(ctx, "ana@EXAMPLE.com")
		if err != nil || got.ID != u.ID || got.PasswordHash != "h" {
			t.Fatalf("by email = %+v, %v", got, err)
		}
		if _, err := s.GetUser(ctx, b.ID, u.ID); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("another tenant's user: %v, want not found", err)
		}
		users, _, err := s.ListUsers(ctx, a.ID, store.Page{})
		if err != nil || len(users) != 1 {
			t.Fatalf("list = %+v, %v", users, err)
		}
	})
}

func TestSessionsExpireAndRevoke(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		ctx := context.Background()
		clk := clock.NewFake(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
		s := storetest.Open(t, e, clk)
		tn := newTenant(t, s, "A")
		u, err := s.CreateUser(ctx, parley.User{TenantID: tn.ID, Email: "a@example.com", Name: "A", Role: parley.UserAdmin, PasswordHash: "h"})
		if err != nil {
			t.Fatal(err)
		}
		sess, err := s.CreateSession(ctx, parley.Session{TenantID: tn.ID, UserID: u.ID, CSRFToken: "c", ExpiresAt: clk.Now().Add(time.Hour)}, "hash1")
		if err != nil {
			t.Fatal(err)
		}
		got, user, err := s.SessionByToken(ctx, "hash1", clk.Now())
		if err != nil || got.ID != sess.ID || user.ID != u.ID || got.CSRFToken != "c" {
			t.Fatalf("live session = %+v %+v, %v", got, user, err)
		}
		if _, _, err := s.SessionByToken(ctx, "hash1", clk.Now().Add(time.Hour)); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("expired session: %v, want not found", err)
		}
		if err := s.RevokeSession(ctx, "other-tenant", sess.ID); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("revoke from another tenant: %v, want not found", err)
		}
		if err := s.RevokeSession(ctx, tn.ID, sess.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SessionByToken(ctx, "hash1", clk.Now()); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("revoked session: %v, want not found", err)
		}
		if _, err := s.CreateSession(ctx, parley.Session{TenantID: tn.ID, UserID: u.ID, CSRFToken: "d", ExpiresAt: clk.Now().Add(time.Hour)}, "hash2"); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeUserSessions(ctx, tn.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SessionByToken(ctx, "hash2", clk.Now()); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("session after sign-out everywhere: %v, want not found", err)
		}
	})
}

func TestInboxViewsAreScopedByTenant(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "A"), newTenant(t, s, "B")
		cust, _ := s.CreateCustomer(ctx, parley.Customer{TenantID: a.ID, Phone: "+5511999990001", Name: "Bia"})
		conv, _ := s.CreateConversation(ctx, parley.Conversation{TenantID: a.ID, ContactPhone: cust.Phone, CustomerID: cust.ID})
		empty, _ := s.CreateConversation(ctx, parley.Conversation{TenantID: a.ID, ContactPhone: "+5511999990002"})
		for _, text := range []string{"first", "second", "last"} {
			if _, err := s.InsertMessage(ctx, parley.Message{TenantID: a.ID, ConversationID: conv.ID, Role: parley.RoleCustomer, Content: text, Status: parley.StatusReceived}); err != nil {
				t.Fatal(err)
			}
		}
		last, err := s.LastMessages(ctx, a.ID, []string{conv.ID, empty.ID})
		if err != nil || len(last) != 1 || last[conv.ID].Content != "last" {
			t.Fatalf("last messages = %+v, %v", last, err)
		}
		if other, err := s.LastMessages(ctx, b.ID, []string{conv.ID}); err != nil || len(other) != 0 {
			t.Fatalf("another tenant's last messages = %+v, %v", other, err)
		}
		custs, err := s.CustomersByIDs(ctx, a.ID, []string{cust.ID})
		if err != nil || custs[cust.ID].Name != "Bia" {
			t.Fatalf("customers = %+v, %v", custs, err)
		}
		if other, _ := s.CustomersByIDs(ctx, b.ID, []string{cust.ID}); len(other) != 0 {
			t.Fatalf("another tenant's customers = %+v", other)
		}
		for _, cat := range []string{"FAQ", "Returns", "FAQ"} {
			if _, err := s.CreateDocument(ctx, parley.Document{TenantID: a.ID, Title: "t", Category: cat}); err != nil {
				t.Fatal(err)
			}
		}
		cats, err := s.DocumentCategories(ctx, a.ID)
		if err != nil || len(cats) != 2 || cats[0] != "FAQ" || cats[1] != "Returns" {
			t.Fatalf("categories = %v, %v", cats, err)
		}
	})
}

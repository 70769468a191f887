package store_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// The store suite: every case runs on SQLite and on PostgreSQL.

func newTenant(t *testing.T, s *store.Store, name string) parley.Tenant {
	t.Helper()
	tn, err := s.CreateTenant(context.Background(), parley.Tenant{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		ctx := context.Background()
		s, err := store.Open(ctx, storetest.EmptyDSN(t, e), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		first, err := s.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(first) == 0 || !strings.HasPrefix(first[0], "0001_") || !strings.HasPrefix(first[len(first)-1], "river_") {
			t.Fatalf("first migrate applied %v, want Parley's from 0001 then River's", first)
		}
		again, err := s.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != 0 {
			t.Fatalf("second migrate applied %v, want nothing", again)
		}
	})
}

func TestTenantRoundTrip(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		tn, err := s.CreateTenant(ctx, parley.Tenant{Name: "Acme", Modules: []string{"APPOINTMENTS"}, TimeZone: "America/Sao_Paulo",
			Features:     map[string]bool{"followups": true},
			Availability: parley.WeeklyHours{"monday": {{Start: "09:00", End: "18:00"}}}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.GetTenant(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Acme" || !got.HasModule("APPOINTMENTS") || !got.Features["followups"] || got.TimeZone != "America/Sao_Paulo" ||
			got.Availability["monday"][0].End != "18:00" || got.DefaultLanguage != "en" {
			t.Fatalf("tenant = %+v", got)
		}
		if _, err := s.GetTenant(ctx, "00000000-0000-0000-0000-000000000000"); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("unknown tenant: err = %v, want not_found", err)
		}
	})
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		tn := newTenant(t, s, "Acme")
		key, secret, err := s.CreateAPIKey(ctx, tn.ID, "default")
		if err != nil {
			t.Fatal(err)
		}
		if len(secret) < 30 || secret[:3] != store.APIKeyPrefix || key.Prefix != secret[:10] {
			t.Fatalf("secret %q prefix %q", secret, key.Prefix)
		}
		got, err := s.TenantByAPIKey(ctx, secret)
		if err != nil || got.ID != tn.ID {
			t.Fatalf("TenantByAPIKey = %v, %v", got.ID, err)
		}
		if _, err := s.TenantByAPIKey(ctx, secret+"x"); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("wrong key: %v", err)
		}
		other := newTenant(t, s, "Other")
		if err := s.RevokeAPIKey(ctx, other.ID, key.ID); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("revoking another tenant's key: %v", err)
		}
		if err := s.RevokeAPIKey(ctx, tn.ID, key.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TenantByAPIKey(ctx, secret); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("revoked key still works: %v", err)
		}
		keys, err := s.ListAPIKeys(ctx, tn.ID)
		if err != nil || len(keys) != 1 || keys[0].RevokedAt == nil {
			t.Fatalf("keys = %+v, %v", keys, err)
		}
	})
}

func TestChannelsAreScopedAndUnique(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "A"), newTenant(t, s, "B")
		ch, err := s.CreateChannel(ctx, parley.Channel{TenantID: a.ID, Type: parley.ChannelWhatsApp, Name: "Main", PhoneNumberID: "1060001",
			AccessToken: "secret-token", Active: true, TestSenders: []string{"+5511999990000"}})
		if err != nil {
			t.Fatal(err)
		}
		// Within a tenant a number is named once; another tenant may claim it
		// (webhooks go to the claim whose token owns the number).
		if _, err := s.CreateChannel(ctx, parley.Channel{TenantID: a.ID, Type: parley.ChannelWhatsApp, Name: "Dup", PhoneNumberID: "1060001"}); parley.ErrorCode(err) != parley.CodeConflict {
			t.Fatalf("duplicate phone_number_id in a tenant: %v, want conflict", err)
		}
		other, err := s.CreateChannel(ctx, parley.Channel{TenantID: b.ID, Type: parley.ChannelWhatsApp, Name: "Claim", PhoneNumberID: "1060001"})
		if err != nil {
			t.Fatalf("another tenant's claim: %v", err)
		}
		// Channels without a phone number id do not collide with each other.
		for i := 0; i < 2; i++ {
			if _, err := s.CreateChannel(ctx, parley.Channel{TenantID: a.ID, Type: parley.ChannelEmail, Name: "Mail"}); err != nil {
				t.Fatal(err)
			}
		}
		claims, err := s.ChannelsByPhoneNumberID(ctx, "1060001")
		if err != nil || len(claims) != 2 || claims[0].ID != ch.ID || claims[1].ID != other.ID {
			t.Fatalf("by phone number id = %+v, %v", claims, err)
		}
		if got := claims[0]; got.AccessToken != "secret-token" || !got.IsTestSender("+5511999990000") {
			t.Fatalf("by phone number id = %+v", got)
		}
		if _, err := s.GetChannel(ctx, b.ID, ch.ID); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("other tenant reads channel: %v", err)
		}
		ch.Active = false
		ch.TenantID = b.ID
		if err := s.UpdateChannel(ctx, ch); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("other tenant updates channel: %v", err)
		}
		if err := s.DeleteChannel(ctx, b.ID, ch.ID); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("other tenant deletes channel: %v", err)
		}
		if got, _ := s.GetChannel(ctx, a.ID, ch.ID); !got.Active {
			t.Fatal("another tenant's update changed the channel")
		}
	})
}

func TestPagination(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		tn := newTenant(t, s, "A")
		want := map[string]bool{}
		for i := 0; i < 7; i++ {
			c, err := s.CreateCustomer(ctx, parley.Customer{TenantID: tn.ID, Phone: "+551199999000" + string(rune('0'+i)), Name: "C"})
			if err != nil {
				t.Fatal(err)
			}
			want[c.ID] = true
		}
		seen := map[string]bool{}
		cursor, pages := "", 0
		for {
			items, next, err := s.ListCustomers(ctx, tn.ID, store.Page{Limit: 3, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, c := range items {
				if seen[c.ID] {
					t.Fatalf("customer %s listed twice", c.ID)
				}
				seen[c.ID] = true
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if pages != 3 || len(seen) != len(want) {
			t.Fatalf("pages=%d seen=%d, want 3 pages and %d customers", pages, len(seen), len(want))
		}
		if _, err := s.CreateCustomer(ctx, parley.Customer{TenantID: tn.ID, Phone: "+5511999990000"}); parley.ErrorCode(err) != parley.CodeConflict {
			t.Fatalf("duplicate phone: %v", err)
		}
	})
}

func TestMessagesDedupeAndStatusOnlyMovesForward(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		tn := newTenant(t, s, "A")
		ch, _ := s.CreateChannel(ctx, parley.Channel{TenantID: tn.ID, Type: parley.ChannelWhatsApp, Name: "M", PhoneNumberID: "1"})
		conv, err := s.CreateConversation(ctx, parley.Conversation{TenantID: tn.ID, ContactPhone: "+5511999990000", ChannelID: ch.ID})
		if err != nil {
			t.Fatal(err)
		}
		in := parley.Message{TenantID: tn.ID, ConversationID: conv.ID, Role: parley.RoleCustomer, Content: "hi", ChannelID: ch.ID,
			ChannelMessageID: "wamid.1", Status: parley.StatusReceived, Extra: map[string]any{"k": "v"}}
		if _, err := s.InsertMessage(ctx, in); err != nil {
			t.Fatal(err)
		}
		if _, err := s.InsertMessage(ctx, in); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("redelivered message: %v, want ErrDuplicate", err)
		}
		out, err := s.InsertMessage(ctx, parley.Message{TenantID: tn.ID, ConversationID: conv.ID, Role: parley.RoleAI, Content: "hello", ChannelID: ch.ID,
			Status: parley.StatusQueued, Template: &parley.Template{Name: "t", Language: "en", Parameters: []string{"a"}}})
		if err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			update     store.MessageUpdate
			wantStatus parley.DeliveryStatus
			changed    bool
		}{
			{store.MessageUpdate{ChannelMessageID: "wamid.out", Status: parley.StatusSent}, parley.StatusSent, true},
			{store.MessageUpdate{Status: parley.StatusRead}, parley.StatusRead, true},
			{store.MessageUpdate{Status: parley.StatusDelivered}, parley.StatusRead, false}, // late receipt
			{store.MessageUpdate{Status: parley.StatusFailed, ErrorCode: "131047", ErrorReason: "window"}, parley.StatusFailed, true},
		}
		for i, st := range steps {
			changed, err := s.AdvanceMessageDelivery(ctx, tn.ID, out.ID, st.update)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := s.GetMessage(ctx, tn.ID, out.ID)
			if changed != st.changed || got.Status != st.wantStatus {
				t.Fatalf("step %d: changed=%v status=%s, want %v %s", i, changed, got.Status, st.changed, st.wantStatus)
			}
		}
		got, err := s.MessageByChannelID(ctx, ch.ID, "wamid.out")
		if err != nil || got.ID != out.ID || got.ErrorCode != "131047" || got.Template == nil || got.Template.Parameters[0] != "a" {
			t.Fatalf("by channel id = %+v, %v", got, err)
		}
		msgs, _, err := s.ListMessages(ctx, tn.ID, conv.ID, store.Page{})
		if err != nil || len(msgs) != 2 || msgs[0].Content != "hi" || msgs[0].Extra["k"] != "v" {
			t.Fatalf("messages = %+v, %v", msgs, err)
		}
	})
}

func TestSessionsStartAfterAnAgentMessage(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
		s := storetest.Open(t, e, clk)
		ctx := context.Background()
		tn := newTenant(t, s, "A")
		conv, _ := s.CreateConversation(ctx, parley.Conversation{TenantID: tn.ID, ContactPhone: "+5511999990000"})
		start := conv.SessionStartedAt

		clk.Advance(time.Minute)
		c, err := s.TouchInbound(ctx, tn.ID, conv.ID, "", clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !c.SessionStartedAt.Equal(start) {
			t.Fatalf("a second customer message started a session")
		}
		clk.Advance(time.Minute)
		if err := s.TouchOutbound(ctx, tn.ID, conv.ID, clk.Now()); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
		c, _ = s.TouchInbound(ctx, tn.ID, conv.ID, "", clk.Now())
		if !c.SessionStartedAt.Equal(clk.Now()) {
			t.Fatalf("session started %v, want %v (first message after the agent's)", c.SessionStartedAt, clk.Now())
		}
		if c.LastCustomerMessageAt == nil || !c.LastCustomerMessageAt.Equal(clk.Now()) {
			t.Fatalf("last customer message at %v", c.LastCustomerMessageAt)
		}
	})
}

func TestConversationFiltersAndEvents(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		tn, other := newTenant(t, s, "A"), newTenant(t, s, "B")
		open, _ := s.CreateConversation(ctx, parley.Conversation{TenantID: tn.ID, ContactPhone: "+1"})
		closed, _ := s.CreateConversation(ctx, parley.Conversation{TenantID: tn.ID, ContactPhone: "+2"})
		if err := s.SetConversationStatus(ctx, tn.ID, closed.ID, parley.ConversationClosed); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateConversation(ctx, parley.Conversation{TenantID: other.ID, ContactPhone: "+1"}); err != nil {
			t.Fatal(err)
		}
		got, _, err := s.ListConversations(ctx, tn.ID, store.ConversationFilter{Status: parley.ConversationOpen}, store.Page{})
		if err != nil || len(got) != 1 || got[0].ID != open.ID {
			t.Fatalf("open conversations = %+v, %v", got, err)
		}
		all, _, _ := s.ListConversations(ctx, tn.ID, store.ConversationFilter{}, store.Page{})
		if len(all) != 2 || all[0].ID != closed.ID {
			t.Fatalf("all = %d conversations, want 2 newest first", len(all))
		}
		if c, err := s.OpenConversationByContact(ctx, tn.ID, parley.KindCustomer, "+1"); err != nil || c.ID != open.ID {
			t.Fatalf("open by contact = %v, %v", c.ID, err)
		}
		for _, name := range []string{"First", "Second", "Third"} {
			if err := s.AppendEvent(ctx, tn.ID, open.ID, name, logged{N: name}); err != nil {
				t.Fatal(err)
			}
		}
		// A payload under a name it was not made for is refused, unlogged.
		if err := s.AppendEvent(ctx, tn.ID, open.ID, "Fourth", logged{N: "Third"}); err == nil {
			t.Fatal("a payload under another name was logged")
		}
		evs, _, err := s.ListEvents(ctx, tn.ID, open.ID, store.Page{})
		if err != nil || len(evs) != 3 || evs[0].Name != "First" || evs[2].Payload["n"] != "Third" {
			t.Fatalf("events = %+v, %v", evs, err)
		}
		if evs, _, _ := s.ListEvents(ctx, other.ID, open.ID, store.Page{}); len(evs) != 0 {
			t.Fatalf("other tenant sees %d events", len(evs))
		}
	})
}

func TestInTxRollsBack(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		tn := newTenant(t, s, "A")
		boom := errors.New("boom")
		err := s.InTx(ctx, func(q *store.Queries) error {
			if _, err := q.CreateDocument(ctx, parley.Document{TenantID: tn.ID, Title: "half"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v", err)
		}
		docs, _, _ := s.ListDocuments(ctx, tn.ID, "", store.Page{})
		if len(docs) != 0 {
			t.Fatalf("rolled-back document is stored")
		}
	})
}

// logged is a payload for any name: the log's tests need names of their own.
type logged struct {
	N string `json:"n"`
}

func (l logged) EventNames() []string { return []string{l.N} }

func TestChannelSettingChangesOneKey(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "A"), newTenant(t, s, "B")
		ch, err := s.CreateChannel(ctx, parley.Channel{TenantID: a.ID, Type: parley.ChannelWhatsApp, Name: "Main", PhoneNumberID: "1060002",
			Active: true, Settings: map[string]string{parley.SettingCheck: parley.CheckOK, parley.SettingVerified: "Acme"}})
		if err != nil {
			t.Fatal(err)
		}
		settings := func() map[string]string {
			t.Helper()
			got, err := s.GetChannel(ctx, a.ID, ch.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got.Settings
		}
		if err := s.SetChannelSetting(ctx, a.ID, ch.ID, "waba_id", "102290129340398"); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{parley.SettingCheck: parley.CheckOK, parley.SettingVerified: "Acme", "waba_id": "102290129340398"}
		if got := settings(); !maps.Equal(got, want) {
			t.Errorf("settings after setting waba_id = %v, want %v", got, want)
		}
		if err := s.SetChannelSetting(ctx, b.ID, ch.ID, "waba_id", "1"); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Errorf("another tenant's channel: %v, want not found", err)
		}
		if err := s.SetChannelSetting(ctx, a.ID, ch.ID, "waba_id", ""); err != nil {
			t.Fatal(err)
		}
		delete(want, "waba_id")
		if got := settings(); !maps.Equal(got, want) {
			t.Errorf("settings after clearing waba_id = %v, want %v", got, want)
		}
		// A channel saved without settings gets its first one.
		bare, err := s.CreateChannel(ctx, parley.Channel{TenantID: a.ID, Type: parley.ChannelWhatsApp, Name: "Bare", PhoneNumberID: "1060003"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetChannelSetting(ctx, a.ID, bare.ID, "waba_id", "7"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetChannel(ctx, a.ID, bare.ID); err != nil || !maps.Equal(got.Settings, map[string]string{"waba_id": "7"}) {
			t.Errorf("a bare channel's settings = %v, %v", got.Settings, err)
		}
	})
}

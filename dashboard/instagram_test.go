package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// An Instagram channel shows its type, account and check in the channel
// list; its settings page takes Instagram-scoped ids as test senders.
func TestInstagramChannelSettings(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
		ch, err := e.st.CreateChannel(context.Background(), parley.Channel{TenantID: tn.ID, Type: parley.ChannelInstagram, Name: "Insta",
			PhoneNumberID: "17841400000000001", DisplayNumber: "@acme.shoes", AccessToken: "IGAA-secret-token", Active: true,
			Settings: map[string]string{"check": "ok", "verified_name": "Acme Shoes"}})
		if err != nil {
			t.Fatal(err)
		}
		br := e.browser()
		csrf := br.mustSignIn("ana@acme.test")
		list := br.get("/settings/channels")
		i := strings.Index(list.Body, `id="channel-`+ch.ID+`"`)
		if i < 0 {
			t.Fatalf("no row for the Instagram channel:\n%s", list.Body)
		}
		row := list.Body[i : i+strings.Index(list.Body[i:], "</tr>")]
		if !strings.Contains(row, "instagram") || !strings.Contains(row, "@acme.shoes") || !strings.Contains(row, "Verified") {
			t.Errorf("row: %s", row)
		}
		p := br.get("/settings/channels/" + ch.ID)
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "17841400000000001") || !strings.Contains(p.Body, "7 days") ||
			!strings.Contains(p.Body, "Instagram-scoped id") || strings.Contains(p.Body, "IGAA-secret-token") {
			t.Fatalf("settings page = %d\n%s", p.Status, p.Body)
		}
		if r := br.post("/settings/channels/"+ch.ID, url.Values{"csrf_token": {csrf}, "test_senders": {"+5511999990000"}}); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("a phone number as an Instagram test sender = %d", r.Status)
		}
		if r := br.post("/settings/channels/"+ch.ID, url.Values{"csrf_token": {csrf}, "test_senders": {"1234567890123456\nig:42"}}); r.Status != http.StatusSeeOther {
			t.Fatalf("save = %d %s", r.Status, r.Body)
		}
		got, _ := e.st.GetChannel(context.Background(), tn.ID, ch.ID)
		if strings.Join(got.TestSenders, ",") != "ig:1234567890123456,ig:42" {
			t.Errorf("test senders = %v", got.TestSenders)
		}
	})
}

// A ticket on Instagram: on day 3 the page says the reply goes with the
// human-agent tag; on day 8 that nothing can be sent.
func TestInstagramTicketWindow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, withServices(t))
	tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	ctx := context.Background()
	ch, err := e.st.CreateChannel(ctx, parley.Channel{TenantID: tn.ID, Type: parley.ChannelInstagram, Name: "Insta",
		PhoneNumberID: "17841400000000001", AccessToken: "tok", Active: true})
	if err != nil {
		t.Fatal(err)
	}
	ticketWrote := func(ago time.Duration) parley.Ticket {
		conv, err := e.st.CreateConversation(ctx, parley.Conversation{TenantID: tn.ID, ContactPhone: parley.InstagramContact(strconv.Itoa(int(ago.Hours()))), ChannelID: ch.ID})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.TouchInbound(ctx, tn.ID, conv.ID, ch.ID, e.clk.Now().Add(-ago)); err != nil {
			t.Fatal(err)
		}
		tk, err := e.st.CreateTicket(ctx, parley.Ticket{TenantID: tn.ID, ConversationID: conv.ID, Reason: "asked for a person"})
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	day3, day8 := ticketWrote(72*time.Hour), ticketWrote(192*time.Hour)
	b := e.browser()
	b.mustSignIn("ana@acme.test")
	if p := b.get("/tickets/" + day3.ID); !strings.Contains(p.Body, `id="human-agent-tag"`) || strings.Contains(p.Body, `id="window-closed"`) {
		t.Errorf("day 3 page:\n%s", p.Body)
	}
	if p := b.get("/tickets/" + day8.ID); !strings.Contains(p.Body, `id="window-closed"`) || !strings.Contains(p.Body, "7 days") {
		t.Errorf("day 8 page:\n%s", p.Body)
	}
}

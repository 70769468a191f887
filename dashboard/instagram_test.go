package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// An Instagram channel shows its type, account and check in the channel
// list; its settings page takes Instagram-scoped ids as test senders.
func TestInstagramChannelSettings(t *testing.T) {
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

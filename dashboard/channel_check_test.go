package dashboard_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// The channel list says whether each WhatsApp number's ownership check
// passed, and that its messages are held while it has not (issue 15).
func TestChannelListShowsTheOwnershipCheck(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
		ctx := context.Background()
		add := func(name, pnid string, settings map[string]string) {
			if _, err := e.st.CreateChannel(ctx, parley.Channel{TenantID: tn.ID, Type: parley.ChannelWhatsApp, Name: name, PhoneNumberID: pnid,
				AccessToken: "tok", Active: true, Settings: settings}); err != nil {
				t.Fatal(err)
			}
		}
		add("Main line", "1001", map[string]string{"check": "ok"})
		add("Second line", "1002", map[string]string{"check": "failed", "check_error": "the token cannot read this number"})
		br := e.browser()
		br.mustSignIn("ana@acme.test")
		p := br.get("/settings/channels")
		if p.Status != http.StatusOK {
			t.Fatalf("channels page = %d", p.Status)
		}
		row := func(name string) string {
			i := strings.Index(p.Body, name)
			if i < 0 {
				t.Fatalf("no row for %s", name)
			}
			end := strings.Index(p.Body[i:], "</tr>")
			return p.Body[i : i+end]
		}
		if r := row("Main line"); !strings.Contains(r, "Verified") || strings.Contains(r, "held") {
			t.Errorf("verified row: %s", r)
		}
		if r := row("Second line"); !strings.Contains(r, "Failed") || !strings.Contains(r, "the token cannot read this number") || !strings.Contains(r, "held") {
			t.Errorf("failed row: %s", r)
		}
	})
}

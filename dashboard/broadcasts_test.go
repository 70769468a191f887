package dashboard_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// bcEnv is a dashboard with broadcasts wired (jobs are queued, never
// worked: the pacer is not under test), and a tenant "Acme" with an admin,
// in São Paulo, a WhatsApp channel whose Business Account holds an approved template
// "winter_sale" (en_US, one body parameter), and customers.
type bcEnv struct {
	*env
	tenant  parley.Tenant
	world   world
	token   string
	browser *browser
}

func newBroadcastEnv(t *testing.T, engine store.Engine, customers int) *bcEnv {
	t.Helper()
	e := newEnv(t, engine, withServices(t))
	tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	ctx := context.Background()
	tn.TimeZone = "America/Sao_Paulo" // UTC−3: a local send_at is read in it
	if err := e.st.UpdateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	w := seed(t, e.st, tn.ID, "Alice", "01")
	if err := e.st.ReplaceSyncedTemplates(ctx, tn.ID, w.Channel.ID, []store.SyncedTemplate{
		{Name: "winter_sale", Language: "en_US", Status: "APPROVED", Category: "MARKETING", BodyParams: 1},
		{Name: "draft_promo", Language: "en_US", Status: "PENDING", Category: "MARKETING", BodyParams: 0},
	}); err != nil {
		t.Fatal(err)
	}
	for i := range customers {
		if _, err := e.st.CreateCustomer(ctx, parley.Customer{TenantID: tn.ID, Phone: fmt.Sprintf("+55119%07d", i), Name: fmt.Sprintf("Cliente%d Silva", i)}); err != nil {
			t.Fatal(err)
		}
	}
	b := e.browser()
	token := b.mustSignIn("ana@acme.test")
	return &bcEnv{env: e, tenant: tn, world: w, token: token, browser: b}
}

// create makes a broadcast through campaign, as the API does: 09:00 on
// 2 June 2025 at 09:30 in São Paulo (half an hour after the clock's
// start), 20 messages a second.
func (e *bcEnv) create(name string, tenant parley.Tenant, channelID string) store.Broadcast {
	e.t.Helper()
	b, refusal, err := e.bc.Create(context.Background(), tenant, campaign.BroadcastRequest{Name: name, ChannelID: channelID,
		TemplateName: "winter_sale", Parameters: []string{"{{first_name}}"}, SendAt: "2025-06-02T09:30", RatePerSec: 20})
	if err != nil || refusal != nil {
		e.t.Fatalf("create broadcast: %v %+v", err, refusal)
	}
	return b
}

func (e *bcEnv) broadcasts() []store.Broadcast {
	e.t.Helper()
	items, _, err := e.st.ListBroadcasts(context.Background(), e.tenant.ID, store.Page{Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return items
}

func TestBroadcastListShowsProgressStatsAndCost(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newBroadcastEnv(t, engine, 3)
		b := e.create("Winter sale", e.tenant, e.world.Channel.ID)
		p := e.browser.get("/broadcasts")
		if p.Status != http.StatusOK {
			t.Fatalf("/broadcasts: %d", p.Status)
		}
		row := regexpFind(t, p.Body, `(?s)(<tr id="broadcast-`+b.ID+`".*?</tr>)`)
		// Alice of the seed and three customers.
		for _, want := range []string{">Winter sale</a>", "Main number", "winter_sale", "Scheduled", "2 Jun 2025 09:30", `<progress max="4" value="0"`, "0 of 4 sent",
			"Sent 0", "Delivered 0", "Read 0", "Replied 0", "Failed 0", "Opted out 0", "0.00 USD", "marketing"} {
			if !strings.Contains(row, want) {
				t.Errorf("the row lacks %q:\n%s", want, row)
			}
		}
		if !strings.Contains(p.Body, `href="/broadcasts" aria-current="page">Broadcasts</a>`) {
			t.Error("no Broadcasts link in the navigation")
		}
		if !strings.Contains(p.Body, `href="/broadcasts/new"`) {
			t.Error("an admin sees no New broadcast link")
		}
		// A scheduled broadcast's figures will move: the list refreshes
		// itself; once none is scheduled or sending, it stops.
		if !strings.Contains(p.Body, `<meta http-equiv="refresh" content="5">`) {
			t.Error("the list with a scheduled broadcast does not refresh itself")
		}
		if _, err := e.bc.Cancel(context.Background(), e.tenant.ID, b.ID); err != nil {
			t.Fatal(err)
		}
		if p := e.browser.get("/broadcasts"); p.Status != http.StatusOK || strings.Contains(p.Body, `http-equiv="refresh"`) || !strings.Contains(p.Body, "Cancelled") {
			t.Errorf("the list with only a cancelled broadcast (%d) still refreshes or does not say Cancelled:\n%s", p.Status, p.Body)
		}
	})
}

func TestBroadcastFormCreatesAndRefuses(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newBroadcastEnv(t, engine, 2)
		form := e.browser.get("/broadcasts/new")
		if form.Status != http.StatusOK || !strings.Contains(form.Body, `<optgroup label="Main number">`) ||
			!strings.Contains(form.Body, `<option value="winter_sale">winter_sale (en_US, 1 parameters)</option>`) {
			t.Fatalf("the form does not offer the synced templates by channel (%d):\n%s", form.Status, form.Body)
		}
		values := url.Values{"csrf_token": {e.token}, "name": {"Spring promo"}, "channel_id": {e.world.Channel.ID}, "template": {"winter_sale"},
			"parameters": {"{{first_name}}\n{{surname}}"}, "seg_tags": {"vip, new"}, "send_at": {"2025-06-03T09:00"}, "rate": {"10"}}
		// Two parameters for a template taking one: campaign refuses, the
		// page says why beside the field, keeps the input, stores nothing.
		values.Set("parameters", "{{first_name}}\nextra")
		p := e.browser.post("/broadcasts/new", values)
		if p.Status != http.StatusUnprocessableEntity {
			t.Fatalf("refused broadcast: %d", p.Status)
		}
		errText := regexpFind(t, p.Body, `(?s)<textarea id="bc-parameters"[^>]*>.*?</textarea>\s*<p class="field-error" role="alert">(.*?)</p>`)
		if !strings.Contains(errText, "takes 1 body parameters; the broadcast gives 2") {
			t.Errorf("the refusal beside the parameters is %q", errText)
		}
		for _, kept := range []string{`value="Spring promo"`, "{{first_name}}\nextra</textarea>", `value="vip, new"`, `value="2025-06-03T09:00"`, `value="10"`,
			`<option value="winter_sale" selected>`, `<option value="` + e.world.Channel.ID + `" selected>`} {
			if !strings.Contains(p.Body, kept) {
				t.Errorf("the refused form lost %q", kept)
			}
		}
		// An unknown placeholder, an empty segment, a bad rate: each shown beside its field.
		for field, tc := range map[string]struct{ key, value, want string }{
			"parameters": {"parameters", "{{surname}}", "names {{surname}}"},
			"segment":    {"seg_tags", "nobody-has-this", "the segment selects no customer"},
			"rate":       {"rate", "500", "rate_per_second must be 1 to 80"},
			"rate words": {"rate", "fast", "A whole number of messages a second."},
			"template":   {"template", "draft_promo", "is PENDING, not approved"},
		} {
			v := withToken(values, e.token)
			v.Set("parameters", "{{first_name}}")
			v.Set("seg_tags", "")
			v.Set(tc.key, tc.value)
			p := e.browser.post("/broadcasts/new", v)
			if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, tc.want) {
				t.Errorf("%s refusal: %d, want 422 saying %q", field, p.Status, tc.want)
			}
		}
		if got := e.broadcasts(); len(got) != 0 {
			t.Fatalf("refused forms stored %d broadcasts", len(got))
		}

		// A zone that no longer loads (edited into the database by hand):
		// the segment's dates cannot be read, and the page says why.
		var zone string
		if err := e.st.DB().QueryRow(`SELECT time_zone FROM tenants WHERE id = $1`, e.tenant.ID).Scan(&zone); err != nil {
			t.Fatal(err)
		}
		setZone := func(z string) {
			if _, err := e.st.DB().Exec(`UPDATE tenants SET time_zone = $1 WHERE id = $2`, z, e.tenant.ID); err != nil {
				t.Fatal(err)
			}
		}
		setZone("Mars/Olympus_Mons")
		v := withToken(values, e.token)
		v.Set("parameters", "{{first_name}}")
		v.Set("seg_before", "2030-01-01")
		if p := e.browser.post("/broadcasts/new", v); p.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(p.Body, "The tenant&#39;s time zone &#34;Mars/Olympus_Mons&#34; is unknown: set it in Settings.") {
			t.Errorf("a segment date in an unknown zone: %d\n%s", p.Status, p.Body)
		}
		setZone(zone)

		values.Set("parameters", "{{first_name}}")
		values.Set("seg_tags", "")
		values.Set("seg_before", "2030-01-01") // customers who never wrote count as before any time
		values.Set("seg_opted_in", "no")
		p = e.browser.post("/broadcasts/new", values)
		got := e.broadcasts()
		if p.Status != http.StatusSeeOther || len(got) != 1 || p.Header.Get("Location") != "/broadcasts/"+got[0].ID {
			t.Fatalf("create: %d to %q, %d broadcasts", p.Status, p.Header.Get("Location"), len(got))
		}
		b := got[0]
		if b.Name != "Spring promo" || b.TemplateName != "winter_sale" || b.Language != "en_US" || b.RatePerSec != 10 || b.Total != 3 ||
			!b.ScheduledAt.Equal(parseTime(t, "2025-06-03T12:00:00Z")) {
			t.Errorf("stored %+v", b)
		}
		if seg := b.Segment; seg.LastContactBefore == nil || !seg.LastContactBefore.Equal(parseTime(t, "2030-01-01T03:00:00Z")) ||
			seg.OptedIn == nil || *seg.OptedIn || seg.LastContactAfter != nil || len(seg.Tags) != 0 {
			t.Errorf("stored segment %+v (last contact before midnight in São Paulo, not opted in)", seg)
		}
	})
}

func parseTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The broadcast's page while it sends and after: progress, stats, the
// next send, a refresh only while live, recipients by outcome 25 a page.
func TestBroadcastPageShowsRecipientsByOutcome(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newBroadcastEnv(t, engine, 30) // and Alice: 31 recipients
		ctx := context.Background()
		b := e.create("Winter sale", e.tenant, e.world.Channel.ID)
		if p := e.browser.get("/broadcasts/" + b.ID); !strings.Contains(p.Body, `<meta http-equiv="refresh" content="5">`) ||
			!strings.Contains(p.Body, `<dd id="next-send">2 Jun 2025 09:30</dd>`) || !strings.Contains(p.Body, "Scheduled") {
			t.Errorf("a scheduled broadcast's page: no refresh or next send:\n%s", p.Body)
		}
		rs, _, err := e.st.ListRecipients(ctx, e.tenant.ID, b.ID, "", store.Page{Limit: 100})
		if err != nil || len(rs) != 31 {
			t.Fatalf("%d recipients, %v", len(rs), err)
		}
		// The 26th opts out before its turn (the second batch).
		if _, err := e.st.AddOptOut(ctx, e.tenant.ID, store.OptOut{Phone: rs[25].Phone, Word: "STOP"}); err != nil {
			t.Fatal(err)
		}
		e.clk.Set(parseTime(t, "2025-06-02T12:30:00Z"))
		if err := e.bc.Pace(ctx); err != nil { // the first 20
			t.Fatal(err)
		}
		if rs, _, err = e.st.ListRecipients(ctx, e.tenant.ID, b.ID, "", store.Page{Limit: 100}); err != nil {
			t.Fatal(err)
		}
		advance := func(r store.BroadcastRecipient, u store.MessageUpdate) {
			t.Helper()
			if _, err := e.st.AdvanceMessageDelivery(ctx, e.tenant.ID, r.MessageID, u); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range rs[:20] {
			advance(r, store.MessageUpdate{Status: parley.StatusSent})
		}
		advance(rs[0], store.MessageUpdate{Status: parley.StatusDelivered})
		advance(rs[1], store.MessageUpdate{Status: parley.StatusRead})
		advance(rs[2], store.MessageUpdate{Status: parley.StatusFailed, ErrorCode: "131049", ErrorReason: "Healthy ecosystem engagement"})
		e.clk.Advance(time.Minute)
		if _, err := e.st.InsertMessage(ctx, parley.Message{TenantID: e.tenant.ID, ConversationID: rs[3].ConversationID, ChannelID: e.world.Channel.ID,
			Role: parley.RoleCustomer, Content: "Interested!", Status: parley.StatusReceived}); err != nil {
			t.Fatal(err)
		}

		p := e.browser.get("/broadcasts/" + b.ID)
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "Sending") || !strings.Contains(p.Body, `<meta http-equiv="refresh"`) ||
			!strings.Contains(p.Body, `<progress max="31" value="19"`) || !strings.Contains(p.Body, "19 of 31 sent") {
			t.Errorf("a sending broadcast's page (%d):\n%s", p.Status, p.Body)
		}
		stats := regexpFind(t, p.Body, `(?s)<dd id="broadcast-stats">(.*?)</dd>`)
		for _, want := range []string{"Sent 19", "Delivered 2", "Read 1", "Replied 1", "Failed 1", "Opted out 0"} {
			if !strings.Contains(stats, want) {
				t.Errorf("stats lack %q: %s", want, stats)
			}
		}
		failed := e.browser.get("/broadcasts/" + b.ID + "?outcome=failed")
		if rows := strings.Count(failed.Body, "<tr data-outcome="); rows != 1 ||
			!strings.Contains(failed.Body, `<span class="badge outcome-failed">Failed</span> <small class="reason">Healthy ecosystem engagement</small>`) ||
			!strings.Contains(failed.Body, `<option value="failed" selected>`) {
			t.Errorf("failed only: %d rows\n%s", rows, failed.Body)
		}
		replied := e.browser.get("/broadcasts/" + b.ID + "?outcome=replied")
		if strings.Count(replied.Body, "<tr data-outcome=\"replied\">") != 1 || !strings.Contains(replied.Body, rs[3].Name) {
			t.Errorf("replied only:\n%s", replied.Body)
		}

		e.clk.Advance(time.Second)
		if err := e.bc.Pace(ctx); err != nil { // the last 11: one opted out; finished
			t.Fatal(err)
		}
		rest, _, err := e.st.ListRecipients(ctx, e.tenant.ID, b.ID, "queued", store.Page{Limit: 100})
		if err != nil || len(rest) != 10 {
			t.Fatalf("%d queued in the last batch, want 10 (%v)", len(rest), err)
		}
		for _, r := range rest {
			advance(r, store.MessageUpdate{Status: parley.StatusSent})
		}
		p = e.browser.get("/broadcasts/" + b.ID)
		if strings.Contains(p.Body, `http-equiv="refresh"`) || strings.Contains(p.Body, `id="next-send"`) || strings.Contains(p.Body, `id="cancel-broadcast"`) ||
			!strings.Contains(p.Body, "Finished") || !strings.Contains(p.Body, "Opted out 1") {
			t.Errorf("a finished broadcast's page refreshes, offers cancel or lacks its outcome:\n%s", p.Body)
		}
		// All 31, 25 a page; the filter travels with the pager.
		first := e.browser.get("/broadcasts/" + b.ID)
		if n := strings.Count(first.Body, "<tr data-outcome="); n != 25 {
			t.Errorf("first page: %d recipients, want 25", n)
		}
		next := html.UnescapeString(regexpFind(t, first.Body, `<a href="([^"]+)" rel="next">`))
		second := e.browser.get(next)
		if n := strings.Count(second.Body, "<tr data-outcome="); n != 6 || strings.Contains(second.Body, `rel="next"`) ||
			!strings.Contains(second.Body, `<span class="badge outcome-opted_out">Opted out</span>`) {
			t.Errorf("second page %s: %d recipients, want 6 with the opt-out", next, n)
		}
		// 26 only sent (not delivered, read, replied, failed or opted out): two pages.
		sent := e.browser.get("/broadcasts/" + b.ID + "?outcome=sent")
		sentNext := html.UnescapeString(regexpFind(t, sent.Body, `<a href="([^"]+)" rel="next">`))
		if !strings.Contains(sentNext, "outcome=sent") || strings.Count(sent.Body, `<tr data-outcome="sent">`) != 25 {
			t.Errorf("sent only: the next page %q drops the filter, or not 25 rows", sentNext)
		}
		if last := e.browser.get(sentNext); strings.Count(last.Body, "<tr data-outcome=") != 1 || strings.Count(last.Body, `<tr data-outcome="sent">`) != 1 ||
			!strings.Contains(last.Body, "« First page") {
			t.Errorf("sent only, second page: want the 26th sent alone\n%s", last.Body)
		}
		if p := e.browser.get("/broadcasts/" + b.ID + "?outcome=sent&cursor=not-a-cursor"); p.Status != http.StatusOK {
			t.Errorf("a bad cursor: %d", p.Status)
		}
	})
}

// A Twilio channel's template is its Content SID, typed in; channels that
// send no templates are not offered (and refused if posted anyway).
func TestBroadcastFormTwilioAndChannelsWithoutTemplates(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newBroadcastEnv(t, engine, 1)
		ctx := context.Background()
		tw, err := e.st.CreateChannel(ctx, parley.Channel{TenantID: e.tenant.ID, Type: parley.ChannelTwilio, Name: "Twilio line", DisplayNumber: "+15550001111", Active: true})
		if err != nil {
			t.Fatal(err)
		}
		mail, err := e.st.CreateChannel(ctx, parley.Channel{TenantID: e.tenant.ID, Type: parley.ChannelEmail, Name: "Mailbox", Active: true})
		if err != nil {
			t.Fatal(err)
		}
		form := e.browser.get("/broadcasts/new")
		channels := regexpFind(t, form.Body, `(?s)<select id="bc-channel"[^>]*>(.*?)</select>`)
		if !strings.Contains(channels, "Twilio line (twilio)") || !strings.Contains(channels, "Main number (whatsapp)") || strings.Contains(channels, "Mailbox") {
			t.Errorf("channels offered: %s", channels)
		}
		if !strings.Contains(form.Body, `id="bc-content-sid"`) {
			t.Error("no Content SID field with a Twilio channel")
		}
		values := url.Values{"csrf_token": {e.token}, "channel_id": {mail.ID}, "template": {"winter_sale"}, "parameters": {"x"}}
		if p := e.browser.post("/broadcasts/new", values); p.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(p.Body, "a email channel sends no WhatsApp templates") {
			t.Errorf("a broadcast on the mailbox: %d", p.Status)
		}
		values = url.Values{"csrf_token": {e.token}, "channel_id": {tw.ID}, "template": {"winter_sale"}, "category": {"utility"}}
		if p := e.browser.post("/broadcasts/new", values); p.Status != http.StatusUnprocessableEntity ||
			!regexp.MustCompile(`id="bc-content-sid"[^>]*aria-invalid="true">\s*<p class="field-error" role="alert">template_name is required\.</p>`).MatchString(p.Body) {
			t.Errorf("a Twilio broadcast without a Content SID: %d, want the refusal beside the SID\n%s", p.Status, p.Body)
		}
		values.Set("content_sid", "HX00000000000000000000000000000000")
		p := e.browser.post("/broadcasts/new", values)
		got := e.broadcasts()
		if p.Status != http.StatusSeeOther || len(got) != 1 || got[0].TemplateName != "HX00000000000000000000000000000000" || got[0].Category != "utility" {
			t.Fatalf("a Twilio broadcast: %d, %+v", p.Status, got)
		}
	})
}

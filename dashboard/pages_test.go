package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// world is one tenant's data, as the pages show it.
type world struct {
	Channel  parley.Channel
	Customer parley.Customer
	Conv     parley.Conversation
	Doc      parley.Document
	Staff    parley.StaffMember
	Agent    parley.HumanAgent
	KeyID    string
	Key      string
}

// seed gives a tenant a channel, a customer with a conversation (messages
// in every delivery state, a template, events), a document, staff, an
// agent and an API key.
func seed(t *testing.T, st *store.Store, tenantID, customerName, phoneSuffix string) world {
	t.Helper()
	ctx := context.Background()
	var w world
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var err error
	w.Channel, err = st.CreateChannel(ctx, parley.Channel{TenantID: tenantID, Type: parley.ChannelWhatsApp, Name: "Main number", PhoneNumberID: "pn" + phoneSuffix, DisplayNumber: "+15550000" + phoneSuffix, AccessToken: "tok", Active: true})
	must(err)
	w.Customer, err = st.CreateCustomer(ctx, parley.Customer{TenantID: tenantID, Phone: "+551199999" + phoneSuffix, Name: customerName})
	must(err)
	w.Conv, err = st.CreateConversation(ctx, parley.Conversation{TenantID: tenantID, ContactPhone: w.Customer.Phone, CustomerID: w.Customer.ID, ChannelID: w.Channel.ID})
	must(err)
	msgs := []parley.Message{
		{Role: parley.RoleCustomer, Content: "Do you open on <b>Sundays</b>?", Status: parley.StatusReceived},
		{Role: parley.RoleAI, Content: "We open 10:00-14:00 on Sundays.", Status: parley.StatusRead},
		{Role: parley.RoleAI, Type: parley.MessageTemplate, Content: "Your order is ready", Status: parley.StatusDelivered,
			Template: &parley.Template{Name: "order_ready", Language: "en", Parameters: []string{"A-17"}}},
		{Role: parley.RoleAgent, Content: "Anything else?", Status: parley.StatusFailed, ErrorCode: "131047", ErrorReason: "Re-engagement message"},
		{Role: parley.RoleAgent, Content: "Sent one", Status: parley.StatusSent},
	}
	for _, m := range msgs {
		m.TenantID, m.ConversationID, m.ChannelID = tenantID, w.Conv.ID, w.Channel.ID
		_, err := st.InsertMessage(ctx, m)
		must(err)
	}
	err = st.AppendEvent(ctx, tenantID, w.Conv.ID, event.TextMessageReceived, event.ReceivedPayload{Content: "Do you open on <b>Sundays</b>?"})
	must(err)
	err = st.AppendEvent(ctx, tenantID, w.Conv.ID, event.GenerateAIAgentAnswer, event.GenerateAIAgentAnswerArgs{TenantID: tenantID, ConversationID: w.Conv.ID})
	must(err)
	w.Doc, err = st.CreateDocument(ctx, parley.Document{TenantID: tenantID, Title: "Opening hours", Body: "Mon-Sat 9-18", Category: "FAQ"})
	must(err)
	w.Staff, err = st.CreateStaffMember(ctx, parley.StaffMember{TenantID: tenantID, Phone: "+551188888" + phoneSuffix, Name: "Sam", Type: "support"})
	must(err)
	w.Agent, err = st.CreateAgent(ctx, parley.HumanAgent{TenantID: tenantID, Name: "Alex", Available: true})
	must(err)
	k, secret, err := st.CreateAPIKey(ctx, tenantID, "crm")
	must(err)
	w.KeyID, w.Key = k.ID, secret
	return w
}

func TestAnotherTenantsIDsAreNotFound(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		a := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
		b := e.tenantWithUser("Bolt", "bo@bolt.test", parley.UserAdmin)
		seed(t, e.st, a.ID, "Alice", "01")
		theirs := seed(t, e.st, b.ID, "Bruno", "02")
		br := e.browser()
		token := br.mustSignIn("ana@acme.test")
		form := url.Values{"csrf_token": {token}, "title": {"taken"}, "body": {"x"}, "category": {"FAQ"}, "active": {"false"},
			"available": {"false"}, "test_senders": {"+5511999990000"}}
		routes := []route{
			{"GET", "/conversations/" + theirs.Conv.ID},
			{"GET", "/knowledge/" + theirs.Doc.ID},
			{"POST", "/knowledge/" + theirs.Doc.ID},
			{"POST", "/knowledge/" + theirs.Doc.ID + "/delete"},
			{"GET", "/settings/channels/" + theirs.Channel.ID},
			{"POST", "/settings/channels/" + theirs.Channel.ID},
			{"POST", "/settings/channels/" + theirs.Channel.ID + "/active"},
			{"POST", "/settings/staff/" + theirs.Staff.ID + "/delete"},
			{"POST", "/settings/agents/" + theirs.Agent.ID + "/available"},
			{"POST", "/settings/api-keys/" + theirs.KeyID + "/revoke"},
		}
		br.expectNotFound(t, routes, form, "Bruno", "Main number")
		// Nothing of theirs changed.
		ctx := context.Background()
		if c, _ := e.st.GetChannel(ctx, b.ID, theirs.Channel.ID); !c.Active || len(c.TestSenders) != 0 {
			t.Errorf("their channel changed: %+v", c)
		}
		if d, err := e.st.GetDocument(ctx, b.ID, theirs.Doc.ID); err != nil || d.Title != "Opening hours" {
			t.Errorf("their document changed: %+v %v", d, err)
		}
		if _, err := e.st.GetStaffMember(ctx, b.ID, theirs.Staff.ID); err != nil {
			t.Errorf("their staff member was removed: %v", err)
		}
		if ag, _ := e.st.GetAgent(ctx, b.ID, theirs.Agent.ID); !ag.Available {
			t.Error("their agent was set away")
		}
		if _, err := e.st.TenantByAPIKey(ctx, theirs.Key); err != nil {
			t.Errorf("their API key was revoked: %v", err)
		}
		// And lists show only our own rows.
		for _, path := range []string{"/", "/knowledge", "/settings/channels", "/settings/staff", "/settings/agents", "/settings/api-keys"} {
			p := br.get(path)
			if p.Status != http.StatusOK || strings.Contains(p.Body, theirs.Conv.ID) || strings.Contains(p.Body, "Bruno") ||
				strings.Contains(p.Body, theirs.Doc.ID) || strings.Contains(p.Body, theirs.Channel.ID) || strings.Contains(p.Body, theirs.KeyID) {
				t.Errorf("%s: %d or shows another tenant's rows", path, p.Status)
			}
		}
	})
}

func TestHostileTextIsShownEscaped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, nil)
	tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	hostile := `<script>alert("x")</script>`
	w := seed(t, e.st, tn.ID, hostile, "01")
	ctx := context.Background()
	if _, err := e.st.InsertMessage(ctx, parley.Message{TenantID: tn.ID, ConversationID: w.Conv.ID, Role: parley.RoleCustomer, Content: `<img src=x onerror=alert(1)>`, Status: parley.StatusReceived}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.AppendEvent(ctx, tn.ID, w.Conv.ID, "Evil</summary><script>1</script>", evil{X: "</pre><script>2</script>"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.CreateDocument(ctx, parley.Document{TenantID: tn.ID, Title: hostile, Body: hostile, Category: "FAQ"}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.mustSignIn("ana@acme.test")
	for _, path := range []string{"/", "/conversations/" + w.Conv.ID, "/knowledge"} {
		p := b.get(path)
		if p.Status != http.StatusOK {
			t.Fatalf("%s: %d", path, p.Status)
		}
		for _, raw := range []string{"<script>", "<img src=x", "</pre><script>"} {
			if strings.Contains(p.Body, raw) {
				t.Errorf("%s contains raw %q", path, raw)
			}
		}
		if !strings.Contains(p.Body, "&lt;script&gt;") {
			t.Errorf("%s does not show the hostile text escaped", path)
		}
	}
}

func TestConversationPageShowsThreadAndEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, nil)
	tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	w := seed(t, e.st, tn.ID, "Alice", "01")
	b := e.browser()
	b.mustSignIn("ana@acme.test")
	p := b.get("/conversations/" + w.Conv.ID)
	for _, want := range []string{
		`class="msg msg-customer" data-status="received"`,
		`class="msg msg-ai" data-status="read"`, `class="tick read" title="Read">✓✓<`,
		`title="Delivered">✓✓<`, `title="Sent">✓<`,
		`title="Failed">✗</span> <span class="fail-reason">Failed: Re-engagement message (131047)`,
		`Template order_ready (en)`, `“A-17”`,
		`Generate AI Agent Answer`, `WhatsApp Business Text Message Received`,
	} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("conversation page lacks %s", want)
		}
	}
	if p := b.get("/conversations/not-an-id"); p.Status != http.StatusNotFound {
		t.Errorf("unknown conversation: %d, want 404", p.Status)
	}
}

func TestInboxFiltersAndPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, nil)
	tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		c, err := e.st.CreateConversation(ctx, parley.Conversation{TenantID: tn.ID, ContactPhone: fmt.Sprintf("+55119999900%02d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if err := e.st.SetConversationStatus(ctx, tn.ID, c.ID, parley.ConversationClosed); err != nil {
				t.Fatal(err)
			}
		}
	}
	b := e.browser()
	b.mustSignIn("ana@acme.test")
	first := b.get("/")
	if n := strings.Count(first.Body, "<tr data-id="); n != 25 {
		t.Fatalf("first page has %d conversations, want 25", n)
	}
	next := regexpFind(t, first.Body, `href="(/\?cursor=[^"]+)" rel="next"`)
	second := b.get(strings.ReplaceAll(next, "&amp;", "&"))
	if n := strings.Count(second.Body, "<tr data-id="); n != 5 || strings.Contains(second.Body, `rel="next"`) {
		t.Fatalf("second page has %d conversations (want 5) or a next link", n)
	}
	closed := b.get("/?status=closed")
	if n := strings.Count(closed.Body, "<tr data-id="); n != 3 || strings.Contains(closed.Body, "status-open") {
		t.Fatalf("closed filter shows %d conversations, want 3 closed ones", n)
	}
}

func TestFormsShowFieldErrorsInPlace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, nil)
	tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	w := seed(t, e.st, tn.ID, "Alice", "01")
	b := e.browser()
	token := b.mustSignIn("ana@acme.test")
	cases := []struct {
		path   string
		form   url.Values
		field  string // the input whose error must follow it
		errMsg string
		kept   string // a typed value shown again
	}{
		{"/knowledge/new", url.Values{"title": {""}, "category": {"FAQ"}, "body": {"typed text"}}, `name="title"`, "Required.", "typed text"},
		{"/knowledge/new", url.Values{"title": {"T"}, "category": {"9 bad"}, "body": {"b"}}, `name="category"`, "starting with a letter", `value="9 bad"`},
		{"/settings/staff", url.Values{"phone": {"call me"}, "name": {"Sam"}, "type": {"support"}}, `name="phone"`, "Not a phone number", `value="call me"`},
		{"/settings/staff", url.Values{"phone": {w.Staff.Phone}, "name": {"Dup"}, "type": {"support"}}, `name="phone"`, "already exists", `value="Dup"`},
		{"/settings/agents", url.Values{"name": {"Al"}, "email": {"not-mail"}}, `name="email"`, "Not an e-mail address.", `value="Al"`},
		{"/settings/channels/" + w.Channel.ID, url.Values{"test_senders": {"+5511999990000\nnope"}}, `name="test_senders"`, "“nope” is not a phone number", "5511999990000\nnope"},
		{"/settings/tenant", url.Values{"name": {"Acme"}, "time_zone": {"Mars/Olympus"}, "default_language": {"en"}, "always_open": {"on"}}, `name="time_zone"`, "Not a known IANA time zone", `value="Mars/Olympus"`},
		{"/settings/tenant", url.Values{"name": {"Acme"}, "time_zone": {"UTC"}, "default_language": {"en"}, "day_monday": {"18:00-09:00"}}, `name="day_monday"`, "is not an opening like", `value="18:00-09:00"`},
		{"/settings/api-keys", url.Values{"name": {""}}, `name="name"`, "Required.", ""},
	}
	for _, tc := range cases {
		tc.form.Set("csrf_token", token)
		p := b.post(tc.path, tc.form)
		if p.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s %v: %d, want 422", tc.path, tc.form, p.Status)
			continue
		}
		at := strings.Index(p.Body, tc.field)
		errAt := strings.Index(p.Body, `<p class="field-error" role="alert">`)
		if at < 0 || errAt < at || !strings.Contains(p.Body[errAt:], tc.errMsg) {
			t.Errorf("%s: the error %q does not follow the %s field", tc.path, tc.errMsg, tc.field)
		}
		if tc.kept != "" && !strings.Contains(p.Body, tc.kept) {
			t.Errorf("%s: the typed %q is lost", tc.path, tc.kept)
		}
	}
	// Nothing was stored by the failed forms.
	ctx := context.Background()
	if docs, _, _ := e.st.ListDocuments(ctx, tn.ID, "", store.Page{}); len(docs) != 1 {
		t.Errorf("%d documents, want only the seeded one", len(docs))
	}
	if got, _ := e.st.GetTenant(ctx, tn.ID); got.TimeZone != "UTC" || len(got.Availability) != 0 {
		t.Errorf("tenant changed by failed forms: %+v", got)
	}
}

func TestTenantSettingsRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, nil)
	tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	b := e.browser()
	token := b.mustSignIn("ana@acme.test")
	p := b.post("/settings/tenant", url.Values{"csrf_token": {token}, "name": {"Acme Ltd"}, "time_zone": {"America/Sao_Paulo"}, "default_language": {"pt-BR"},
		"module_appointments": {"on"}, "feature_followups": {"on"}, "day_monday": {"13:00-18:00, 09:00-12:00"}, "day_saturday": {"10:00-14:00"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", p.Status, p.Body)
	}
	got, _ := e.st.GetTenant(context.Background(), tn.ID)
	mon := got.Availability["monday"]
	if got.Name != "Acme Ltd" || got.TimeZone != "America/Sao_Paulo" || !got.HasModule(parley.ModuleAppointments) || !got.Features[parley.FeatureFollowUps] ||
		len(mon) != 2 || mon[0].Start != "09:00" || len(got.Availability["sunday"]) != 0 || len(got.Availability["saturday"]) != 1 {
		t.Fatalf("saved tenant = %+v", got)
	}
	form := b.get("/settings/tenant?saved=1")
	for _, want := range []string{"Saved.", `value="09:00-12:00, 13:00-18:00"`, `value="America/Sao_Paulo"`} {
		if !strings.Contains(form.Body, want) {
			t.Errorf("settings page lacks %s", want)
		}
	}
}

// evil is a payload logged under a hostile name, for the escaping test.
type evil struct {
	X string `json:"x"`
}

func (evil) EventNames() []string { return []string{"Evil</summary><script>1</script>"} }

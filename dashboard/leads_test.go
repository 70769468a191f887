package dashboard_test

import (
	"context"
	"encoding/json"
	"go/format"
	"html"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/store"
)

// salesWorld is a site that reaches its leads by e-mail and WhatsApp, a
// Sales/CRM Specialist persona, and Jane Smith, a lead.
type salesWorld struct {
	Site  parley.Site
	Lead  parley.Lead
	Agent parley.LeadPersona
}

func seedSales(t *testing.T, st *store.Store, tenantID, channelID string) salesWorld {
	t.Helper()
	ctx := context.Background()
	var sw salesWorld
	var err error
	if sw.Site, err = st.CreateSite(ctx, parley.Site{TenantID: tenantID, Name: "Acme Website", URL: "https://acme.example", WhatsAppChannelID: channelID,
		Email: &parley.EmailSender{Host: "127.0.0.1", Port: 2525, FromAddress: "sales@acme.example", TLS: parley.TLSNone}}); err != nil {
		t.Fatal(err)
	}
	if sw.Lead, err = st.CreateLead(ctx, parley.Lead{TenantID: tenantID, SiteID: sw.Site.ID, Name: "Jane Smith", Company: "Acme Inc.", Position: "Marketing Director",
		Email: "jane@acme.example", Phone: "+5511987654321", PainPoints: []string{"measuring ROI"}, LeadStage: "qualified"}); err != nil {
		t.Fatal(err)
	}
	if sw.Agent, err = st.CreateSiteAgent(ctx, parley.LeadPersona{TenantID: tenantID, SiteID: sw.Site.ID, Role: parley.PersonaSales, Name: "Sam", Active: true}); err != nil {
		t.Fatal(err)
	}
	return sw
}

// snippetOf reads a code snippet off the tester's page, as a user copies it.
func snippetOf(t *testing.T, body, id string) string {
	t.Helper()
	return html.UnescapeString(regexpFind(t, body, `(?s)<details class="snippet" id="snippet-`+id+`"[^>]*>.*?<pre><code>(.*?)</code></pre>`))
}

type leadAnswer struct {
	Success bool `json:"success"`
	Data    struct {
		Messages map[string]parley.LeadContent `json:"messages"`
	} `json:"data"`
}

// The tester writes the follow-up per channel through the leads service,
// and the snippets it shows make the same call against the API.
func TestLeadTesterShowsContentAndRunnableSnippets(t *testing.T) {
	t.Parallel()
	p := apptest.Start(t, store.SQLite, nil, nil)
	tn, key := p.Tenant("Acme")
	w := seed(t, p.Store, tn.ID, "Alice", "01")
	sw := seedSales(t, p.Store, tn.ID, w.Channel.ID)
	e := appEnv(t, p)
	if _, err := createUser(e, tn.ID, "ana@acme.test"); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	token := b.mustSignIn("ana@acme.test")

	form := b.get("/leads")
	if !strings.Contains(form.Body, `<option value="`+sw.Site.ID+`">Acme Website</option>`) || !strings.Contains(form.Body, `<script src="/static/leads.js" defer></script>`) {
		t.Fatal("the tester lacks its site suggestions or its script")
	}
	page := b.post("/leads", url.Values{"csrf_token": {token}, "site_id": {sw.Site.ID}, "lead_id": {sw.Lead.ID}, "follow_up_type": {"call"},
		"previous_interactions": {`[{"date": "2024-04-20", "type": "call", "summary": "Discussed pricing"}]`},
		"product_interest":      {`["content automation"]`}, "follow_up_interval": {"3 days"}})
	if page.Status != http.StatusOK || !strings.Contains(page.Body, `id="result-ok"`) {
		t.Fatalf("tester: %d\n%s", page.Status, page.Body)
	}
	shown := map[string]string{}
	for _, ch := range parley.LeadChannels {
		card := regexpFind(t, page.Body, `(?s)(<article class="card channel" data-channel="`+ch+`">.*?</article>)`)
		title := html.UnescapeString(regexpFind(t, card, `<dd class="c-title">(.*?)</dd>`))
		msg := html.UnescapeString(regexpFind(t, card, `(?s)<dd class="c-message">(.*?)</dd>`))
		greets := map[string]string{"email": "Hi Jane,", "whatsapp": "Hi Jane!"}[ch]
		if title == "" || !strings.HasPrefix(msg, greets) || !strings.Contains(msg, "measuring ROI") || !strings.Contains(card, `<dd class="c-strategy">`) {
			t.Errorf("%s card: title %q, message %q", ch, title, msg)
		}
		shown[ch] = title
	}
	if strings.Contains(page.Body, key) {
		t.Fatal("the page shows the tenant's API key")
	}
	// What a sequence could not deliver is said per channel: the site has
	// no WhatsApp template and Jane never wrote; no visitor was named.
	wa := html.UnescapeString(regexpFind(t, page.Body, `(<li data-channel="whatsapp" data-deliverable="false">.*?</li>)`))
	web := html.UnescapeString(regexpFind(t, page.Body, `(<li data-channel="web" data-deliverable="false">.*?</li>)`))
	if !strings.Contains(wa, "cannot deliver it: the site has no WhatsApp template") || !strings.Contains(web, "no visitor") ||
		!strings.Contains(page.Body, `<li data-channel="email" data-deliverable="true"><strong>email</strong>: a sequence delivers it to jane@acme.example</li>`) ||
		!strings.Contains(page.Body, `<p class="hint" id="schedule">A sequence is spaced 3 days apart.</p>`) {
		t.Errorf("delivery:\n%s\n%s", wa, web)
	}

	// Each snippet reads the key from PARLEY_API_KEY; run them as a user would.
	env := append(os.Environ(), "PARLEY_API_KEY="+key)
	curl := snippetOf(t, page.Body, "curl")
	if !strings.Contains(curl, "$PARLEY_API_KEY") || !strings.Contains(curl, p.URL()+"/api/agents/sales/leadFollowUp") {
		t.Fatalf("curl snippet:\n%s", curl)
	}
	runs := []struct{ name, tool, file, code string }{
		{"curl", "bash", "req.sh", curl},
		{"js", "node", "req.mjs", snippetOf(t, page.Body, "js")},
	}
	goCode := snippetOf(t, page.Body, "go")
	if _, err := format.Source([]byte(goCode)); err != nil {
		t.Fatalf("the Go snippet is not Go: %v\n%s", err, goCode)
	}
	if !testing.Short() {
		runs = append(runs, struct{ name, tool, file, code string }{"go", "go", "main.go", goCode})
	}
	for _, run := range runs {
		tool, err := exec.LookPath(run.tool)
		if err != nil {
			t.Logf("%s snippet not run: no %s here", run.name, run.tool)
			continue
		}
		dir := t.TempDir()
		file := filepath.Join(dir, run.file)
		if err := os.WriteFile(file, []byte(run.code), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{file}
		if run.tool == "go" {
			args = []string{"run", file}
		}
		cmd := exec.Command(tool, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s snippet: %v\n%s", run.name, err, out)
		}
		text := string(out)
		if run.name == "curl" {
			var ans leadAnswer
			if err := json.Unmarshal(out, &ans); err != nil || !ans.Success {
				t.Fatalf("curl snippet answered %s", out)
			}
			for ch, title := range shown {
				if ans.Data.Messages[ch].Title != title {
					t.Errorf("the API's %s title %q is not the tester's %q", ch, ans.Data.Messages[ch].Title, title)
				}
			}
			continue
		}
		// node and Go print the status, then the answer.
		if !strings.Contains(text, "200") || !strings.Contains(text, "success") || !strings.Contains(text, "Hi Jane,") {
			t.Errorf("%s snippet printed:\n%s", run.name, text)
		}
	}
}

func TestLeadTesterFieldErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, withServices(t))
	tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	w := seed(t, e.st, tn.ID, "Alice", "01")
	sw := seedSales(t, e.st, tn.ID, w.Channel.ID)
	b := e.browser()
	token := b.mustSignIn("ana@acme.test")
	ok := url.Values{"site_id": {sw.Site.ID}, "lead_id": {sw.Lead.ID}}
	with := func(k, v string) url.Values {
		f := url.Values{"site_id": ok["site_id"], "lead_id": ok["lead_id"]}
		f.Set(k, v)
		return f
	}
	cases := []struct {
		form   url.Values
		status int
		field  string
		errMsg string
		kept   string
	}{
		{url.Values{"site_id": {""}, "lead_id": {sw.Lead.ID}}, 422, "site_id", "Required.", ""},
		{with("lead_data", `{"name": `), 422, "lead_data", "Not valid JSON: unexpected end of JSON input.", `{&#34;name&#34;: `},
		{with("product_interest", `{"a": 1}`), 422, "product_interest", "Must be a JSON array of strings", ""},
		{with("previous_interactions", `"call"`), 422, "previous_interactions", "Must be a JSON array of objects", ""},
		{with("previous_interactions", `[{"date": 5}]`), 400, "previous_interactions", "previousInteractions[0] must be an object whose date", ""},
		{with("site_id", "site_456"), 400, "site_id", "siteId must be a UUID, got &#34;site_456&#34; (INVALID_INPUT)", `value="site_456"`},
		{with("phone_number", "12"), 400, "phone_number", "phone_number must be a phone number with at least 7 digits (INVALID_PHONE_NUMBER)", ""},
		{with("lead_id", "01900000-0000-7000-8000-000000000000"), 404, "lead_id", "lead not found on this site (LEAD_NOT_FOUND)", ""},
		{with("agent_id", sw.Lead.ID), 404, "agent_id", "agent not found", ""},
	}
	for _, tc := range cases {
		tc.form.Set("csrf_token", token)
		p := b.post("/leads", tc.form)
		if p.Status != tc.status {
			t.Errorf("%v: %d, want %d", tc.form, p.Status, tc.status)
			continue
		}
		at := strings.Index(p.Body, `name="`+tc.field+`"`)
		errAt := strings.Index(p.Body, `<p class="field-error" role="alert">`+tc.errMsg)
		if at < 0 || errAt < at {
			t.Errorf("%v: the error %q is not beside %s", tc.form, tc.errMsg, tc.field)
		}
		if tc.kept != "" && !strings.Contains(p.Body, tc.kept) {
			t.Errorf("%v: the typed %q is lost", tc.form, tc.kept)
		}
		if tc.status >= 400 && tc.status != 422 && !strings.Contains(p.Body, `id="result-error"`) {
			t.Errorf("%v: the call's error is not shown as its answer", tc.form)
		}
	}
	// Nothing was written: no command ran.
	var n int
	if err := e.st.DB().QueryRow(`SELECT COUNT(*) FROM agent_commands WHERE tenant_id = $1`, tn.ID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d commands after refused requests (%v)", n, err)
	}
}

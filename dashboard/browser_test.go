package dashboard_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/dashboard"
	"github.com/parleyhq/parley/store"
)

// The dashboard in a real, headless Chromium against a whole Parley
// (apptest): what a person signing in sees and does. .ci/run installs
// Debian's chromium; without it these tests skip, unless CI is set.

// chromium finds the browser or skips (fails under CI).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed and CI is set: install it with `apt-get install -y chromium` (.ci/run does)")
	}
	t.Skip("chromium is not installed: browser tests skipped (apt-get install -y chromium to run them)")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	// Confirm dialogs (hx-confirm) are answered yes, as a user would.
	dialogs := chromedp.Events(ctx, cdppage.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return ctx
}

// screenshotDir is artifacts/screenshots at the module root (git ignores it).
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	out := filepath.Join(dir, "artifacts", "screenshots")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string
}

// stepTimeout bounds one browser step, so a step that hangs fails on its
// own name instead of using up the whole test's time.
const stepTimeout = 30 * time.Second

func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func run[T any](b *tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (b *tab) screenshot(name string) {
	b.t.Helper()
	png := run(b, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(b.shot, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *tab) text(sel string) string {
	return run(b, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func (b *tab) eval(js string) int { return run(b, js, chromedp.Evaluate[int](js)) }

func TestDashboardInABrowser(t *testing.T) {
	// Not t.Parallel: beside the other dashboard tests it finished no sooner
	// (the two cores are the limit, and Chromium takes its share).
	ctx := newBrowser(t) // skips first when there is no browser
	graph := whatsapptest.NewFakeGraph()
	t.Cleanup(graph.Close)
	p := apptest.Start(t, store.SQLite, nil, func(c *config.Config) { c.WhatsAppGraphURL, c.WhatsAppAppSecret = graph.URL, webhookSecret })
	tn, _ := p.Tenant("Acme")
	w := seed(t, p.Store, tn.ID, "Alice Martins", "01")
	// Ana is an admin who also answers tickets as the agent Alex.
	if _, err := dashboard.CreateUser(context.Background(), p.Store, dashboard.NewUser{TenantID: tn.ID, Email: "ana@acme.test", Name: "Ana", Password: password, AgentID: w.Agent.ID}); err != nil {
		t.Fatal(err)
	}
	b := &tab{t: t, ctx: ctx, base: p.URL(), shot: screenshotDir(t)}

	// A stranger is sent to sign in; a wrong password is refused.
	b.do("open the inbox", chromedp.Navigate(b.base+"/"), chromedp.WaitVisible(chromedp.ID("email")))
	b.screenshot("signin")
	b.do("sign in with a wrong password",
		chromedp.SendKeys(chromedp.ID("email"), "ana@acme.test"),
		chromedp.SendKeys(chromedp.ID("password"), "not the password"),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button`)),
		chromedp.WaitVisible(chromedp.ID("signin-error")))
	if msg := b.text("#signin-error"); !strings.Contains(msg, "wrong") {
		t.Fatalf("wrong password shows %q", msg)
	}
	b.screenshot("signin-refused")

	// The right password opens the inbox, with the seeded conversation.
	b.do("sign in",
		chromedp.SetValue(chromedp.ID("email"), "ana@acme.test"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button`)),
		chromedp.WaitVisible(chromedp.ID("conversations")))
	if row := b.text("#conversations tbody tr"); !strings.Contains(row, "Alice Martins") || !strings.Contains(row, "Main number") || !strings.Contains(row, "Sent one") {
		t.Fatalf("inbox row = %q", row)
	}
	if b.eval(`typeof htmx === "object" ? 1 : 0`) != 1 {
		t.Fatal("htmx did not load from /static (blocked or missing)")
	}
	b.screenshot("inbox")

	// The conversation: the thread with roles, ticks and templates, and the events.
	b.do("open the conversation", chromedp.Click(chromedp.CSS(`#conversations a[href="/conversations/`+w.Conv.ID+`"]`)), chromedp.WaitVisible(chromedp.ID("messages")))
	if n := b.eval(`document.querySelectorAll("#messages .msg").length`); n != 5 {
		t.Fatalf("%d messages shown, want 5", n)
	}
	if n := b.eval(`document.querySelectorAll("#messages .msg-ai, #messages .msg-agent").length`); n != 4 {
		t.Fatalf("%d agent-side messages, want 4", n)
	}
	if c := run(b, "read tick colour", chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".tick.read")).color`)); c != "rgb(29, 139, 241)" {
		t.Fatalf("read ticks are %s, want blue (the stylesheet did not apply?)", c)
	}
	if s := b.text(".fail-reason"); !strings.Contains(s, "Re-engagement message") {
		t.Fatalf("failed message shows %q", s)
	}
	if s := b.text(".badge.template"); !strings.Contains(s, "order_ready") {
		t.Fatalf("template badge = %q", s)
	}
	if n := b.eval(`document.querySelectorAll("#events li").length`); n != 2 {
		t.Fatalf("%d events in the timeline, want 2", n)
	}
	b.screenshot("conversation")

	// The knowledge base: a form with an error shown in place, then saved.
	b.do("open a new document", chromedp.Navigate(b.base+"/knowledge/new"), chromedp.WaitVisible(chromedp.ID("title")))
	b.do("save without a title",
		chromedp.SendKeys(chromedp.ID("category"), "Returns"),
		chromedp.SendKeys(chromedp.ID("body"), "Bring the receipt within 30 days."),
		chromedp.Click(chromedp.CSS(`form.card button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".field-error")))
	if s := b.text(".field-error"); s != "Required." {
		t.Fatalf("field error = %q", s)
	}
	b.screenshot("document-error")
	b.do("save the document",
		chromedp.SendKeys(chromedp.ID("title"), "Returns policy"),
		chromedp.Click(chromedp.CSS(`form.card button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("documents")))
	if s := b.text("#documents"); !strings.Contains(s, "Returns policy") || !strings.Contains(s, "Bring the receipt") {
		t.Fatalf("documents list = %q", s)
	}
	b.screenshot("knowledge")

	// Settings: deactivate the channel in place (htmx swaps the row).
	row := `#channel-` + w.Channel.ID
	b.do("open channels", chromedp.Navigate(b.base+"/settings/channels"), chromedp.WaitVisible(chromedp.CSS(row+`[data-active="true"]`)))
	b.do("deactivate", chromedp.Click(chromedp.CSS(row+` button.toggle`)), chromedp.WaitVisible(chromedp.CSS(row+`[data-active="false"]`)))
	if c, _ := p.Store.GetChannel(context.Background(), tn.ID, w.Channel.ID); c.Active {
		t.Fatal("the channel is still active in the database")
	}
	if loc := run(b, "location", chromedp.Location()); !strings.HasSuffix(loc, "/settings/channels") {
		t.Fatalf("the toggle navigated to %s; htmx should have swapped the row in place", loc)
	}
	b.screenshot("settings-channels")

	// API keys: the secret is shown once and works; revoking stops it.
	b.do("create a key", chromedp.Navigate(b.base+"/settings/api-keys"), chromedp.WaitVisible(chromedp.ID("key-name")),
		chromedp.SendKeys(chromedp.ID("key-name"), "Browser test"),
		chromedp.Click(chromedp.CSS(`form.card button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("new-key")))
	secret := run(b, "new key", chromedp.Value(chromedp.ID("new-key")))
	if res := p.Do(http.MethodGet, "/api/tenant", secret, nil); res.Status != http.StatusOK {
		t.Fatalf("the new key: %d", res.Status)
	}
	b.screenshot("api-key-created")
	b.do("reload", chromedp.Navigate(b.base+"/settings/api-keys"), chromedp.WaitVisible(chromedp.ID("api-keys")))
	if n := b.eval(`document.querySelectorAll("#new-key").length`); n != 0 {
		t.Fatal("the secret is shown again after a reload")
	}
	keys, err := p.Store.ListAPIKeys(context.Background(), tn.ID)
	if err != nil || len(keys) != 3 || keys[2].Name != "Browser test" {
		t.Fatalf("keys = %v, %v", keys, err)
	}
	newRow := `#api-keys tr[data-id="` + keys[2].ID + `"]`
	b.do("revoke it", chromedp.Click(chromedp.CSS(newRow+` button.revoke`)), chromedp.WaitVisible(chromedp.CSS(newRow+`[data-revoked="true"]`)))
	if res := p.Do(http.MethodGet, "/api/tenant", secret, nil); res.Status != http.StatusUnauthorized {
		t.Fatalf("the revoked key: %d, want 401", res.Status)
	}
	b.screenshot("settings-api-keys")

	// The pages of the work: follow-up rules, tickets, the lead tester, the
	// knowledge search (browser_work_test.go), broadcasts (browser_broadcast_test.go).
	support := supportLine(t, p, graph, tn.ID)
	rule := b.followUpRule(p, tn.ID, support)
	ticket := b.replyToTicket(p, graph, tn.ID)
	b.answerNotification(p, graph, tn.ID, ticket)
	sales := seedSales(t, p.Store, tn.ID, support.ID)
	b.leadTester(sales, "leads-result")
	b.do("search the knowledge base", chromedp.Navigate(b.base+"/knowledge/search?q=Can+I+bring+the+receipt+for+returns"), chromedp.WaitVisible(chromedp.ID("passages")))
	if s := b.text("#verdict"); !strings.Contains(s, "answer with") || !strings.Contains(s, "Bring the receipt within 30 days.") {
		t.Fatalf("knowledge search verdict = %q", s)
	}
	b.screenshot("knowledge-search")
	bc := b.broadcast(p, graph, tn.ID, support)

	// Every page fits a 375 px phone screen without sideways scrolling.
	b.do("phone viewport", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
	pages := map[string]string{
		"notifications": "/notifications?status=all",
		"tickets":       "/tickets?view=all", "ticket": "/tickets/" + ticket.ID, "followups": "/followups", "followup-new": "/followups?new=1",
		"followup-edit": "/followups/" + rule.ID, "leads": "/leads", "knowledge-search": "/knowledge/search?q=receipt+returns",
		"inbox": "/", "conversation": "/conversations/" + w.Conv.ID, "knowledge": "/knowledge", "document": "/knowledge/" + w.Doc.ID,
		"settings-channels": "/settings/channels", "settings-staff": "/settings/staff", "settings-agents": "/settings/agents",
		"settings-tenant": "/settings/tenant", "settings-api-keys": "/settings/api-keys", "settings-webhooks": "/settings/webhooks",
		"settings-usage": "/settings/usage",
		"broadcasts":     "/broadcasts", "broadcast": "/broadcasts/" + bc.ID, "broadcast-new": "/broadcasts/new", "broadcast-settings": "/broadcasts/settings",
	}
	for name, path := range pages {
		b.do("open "+path+" at 375 px", chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS("main")))
		if width := b.eval(`document.documentElement.scrollWidth`); width > 375 {
			b.screenshot("375-" + name + "-overflow")
			t.Errorf("%s is %d px wide at a 375 px viewport", path, width)
		}
		b.screenshot("375-" + name)
	}
	b.leadTester(sales, "375-leads-result") // the results too
	if width := b.eval(`document.documentElement.scrollWidth`); width > 375 {
		t.Errorf("the lead tester's results are %d px wide at a 375 px viewport", width)
	}

	// Signing out ends the session.
	b.do("sign out", chromedp.Click(chromedp.CSS(`form.signout button`)), chromedp.WaitVisible(chromedp.ID("email")))
	b.do("inbox after sign-out", chromedp.Navigate(b.base+"/"), chromedp.WaitVisible(chromedp.ID("email")))
}

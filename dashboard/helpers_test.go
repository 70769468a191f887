package dashboard_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/email"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/conversation"
	"github.com/parleyhq/parley/dashboard"
	"github.com/parleyhq/parley/hooks"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/knowledge"
	"github.com/parleyhq/parley/leads"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

const password = "correct horse battery"

// env is a dashboard on a fresh database, served by httptest.
type env struct {
	t   *testing.T
	st  *store.Store
	clk *clock.Fake // nil on a whole Parley (appEnv): the wall clock
	url string      // the dashboard's base URL
	// bc is the dashboard's broadcasts (withServices), to seed them as the API does.
	bc *campaign.Broadcasts
}

func newEnv(t *testing.T, engine store.Engine, tune func(*dashboard.Deps)) *env {
	t.Helper()
	clk := clock.NewFake(time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC))
	st := storetest.Open(t, engine, clk)
	deps := dashboard.Deps{Store: st, Clock: clk}
	if tune != nil {
		tune(&deps)
	}
	d, err := dashboard.New(deps)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return &env{t: t, st: st, clk: clk, url: srv.URL, bc: deps.Broadcasts}
}

// appEnv is the dashboard of a whole running Parley, for tests that
// compare it with the API or run what it shows against the server.
func appEnv(t *testing.T, p *apptest.Parley) *env {
	return &env{t: t, st: p.Store, url: p.URL()}
}

// withServices wires the conversation flow, lead sequences, knowledge
// retrieval, webhooks and broadcasts into the dashboard as app.New does, over an insert-only job
// client: jobs are queued in the database, and nothing here works them.
func withServices(t *testing.T) func(*dashboard.Deps) {
	return func(d *dashboard.Deps) {
		jc, err := jobs.NewClient(d.Store, nil, jobs.Config{})
		if err != nil {
			t.Fatal(err)
		}
		ins := &jobs.Inserter{}
		ins.Set(jc)
		d.Conversations = &conversation.Service{Store: d.Store, Jobs: ins, Outbox: &channel.Outbox{},
			Knowledge: knowledge.New(), Tools: &conversation.Tools{}}
		d.Leads = &leads.Service{Store: d.Store, Jobs: ins, Outbox: &channel.Outbox{}, Mailer: email.SMTPMailer{},
			Clock: d.Clock, Log: slog.New(slog.DiscardHandler)}
		d.Webhooks = &hooks.Service{Store: d.Store, Clock: d.Clock, Known: func(string) bool { return true }}
		d.Broadcasts = &campaign.Broadcasts{Store: d.Store, Jobs: ins, Outbox: &channel.Outbox{}, Clock: d.Clock, Log: slog.New(slog.DiscardHandler)}
	}
}

// tenantWithUser makes a tenant and a user of it who can sign in.
func (e *env) tenantWithUser(name, email string, role parley.UserRole) parley.Tenant {
	e.t.Helper()
	ctx := context.Background()
	tn, err := e.st.CreateTenant(ctx, parley.Tenant{Name: name})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := dashboard.CreateUser(ctx, e.st, dashboard.NewUser{TenantID: tn.ID, Email: email, Name: name + " user", Role: role, Password: password}); err != nil {
		e.t.Fatal(err)
	}
	return tn
}

// browser is an HTTP client with cookies that does not follow redirects,
// so tests see each answer.
type browser struct {
	t   *testing.T
	e   *env
	c   *http.Client
	jar *cookiejar.Jar
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, e: e, jar: jar, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	Status int
	Header http.Header
	Body   string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{Status: res.StatusCode, Header: res.Header, Body: string(body)}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.e.url+path, nil)
	return b.do(req)
}

// post sends a form; headers are extra request headers.
func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.e.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func csrfOf(t *testing.T, p page) string {
	t.Helper()
	m := csrfInput.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no CSRF token in page (status %d):\n%s", p.Status, p.Body)
	}
	return m[1]
}

// signIn signs in through the form and returns the session's CSRF token.
func (b *browser) signIn(email, pw string) page {
	b.t.Helper()
	form := b.get("/signin")
	return b.post("/signin", url.Values{"csrf_token": {csrfOf(b.t, form)}, "email": {email}, "password": {pw}})
}

// mustSignIn signs in and returns a CSRF token of the session.
func (b *browser) mustSignIn(email string) string {
	b.t.Helper()
	if p := b.signIn(email, password); p.Status != http.StatusSeeOther {
		b.t.Fatalf("sign in: %d\n%s", p.Status, p.Body)
	}
	return csrfOf(b.t, b.get("/"))
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.e.url)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func regexpFind(t *testing.T, s, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no match for %s", pattern)
	}
	return m[1]
}

// createUser makes an admin user of the tenant who can sign in.
func createUser(e *env, tenantID, email string) (parley.User, error) {
	return dashboard.CreateUser(context.Background(), e.st, dashboard.NewUser{TenantID: tenantID, Email: email, Name: "Ana", Password: password})
}

// route is one request a test makes of the dashboard.
type route struct{ method, path string }

// expectNotFound makes each request (a POST with form) and checks each
// answers 404 showing none of theirs: another tenant's names.
func (b *browser) expectNotFound(t *testing.T, routes []route, form url.Values, theirs ...string) {
	t.Helper()
	for _, r := range routes {
		var p page
		if r.method == "GET" {
			p = b.get(r.path)
		} else {
			p = b.post(r.path, form)
		}
		if p.Status != http.StatusNotFound {
			t.Errorf("%s %s (another tenant's id): %d, want 404", r.method, r.path, p.Status)
		}
		for _, name := range theirs {
			if strings.Contains(p.Body, name) {
				t.Errorf("%s %s shows another tenant's %q", r.method, r.path, name)
			}
		}
	}
}

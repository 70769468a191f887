package dashboard_test

import (
	"fmt"
	"html"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/dashboard"
	"github.com/parleyhq/parley/ratelimit"
	"github.com/parleyhq/parley/store"
)

// browserResolve resolves a Location as a browser does: it drops tabs and
// newlines anywhere and leading or trailing spaces and controls, and reads a
// backslash as a slash in http(s) URLs.
func browserResolve(t *testing.T, base, loc string) *url.URL {
	t.Helper()
	loc = strings.TrimFunc(loc, func(r rune) bool { return r <= 0x20 })
	loc = strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(loc)
	b, _ := url.Parse(base)
	u, err := url.Parse(loc)
	if err != nil {
		return &url.URL{Host: "unparseable"}
	}
	return b.ResolveReference(u)
}

// After sign-in Parley goes back only to a path of its own site: whatever
// the next parameter says, the browser stays on the dashboard's host.
func TestSignInRedirectStaysOnSite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, nil)
	e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	host := strings.TrimPrefix(e.url, "http://")
	hostile := []string{
		"/\t/evil.example/x", "/\n/evil.example/x", "/\r\n/evil.example", " //evil.example/x", "\t//evil.example",
		"//evil.example/x", `/\evil.example/x`, `\\evil.example`, `/\/evil.example`,
		"https://evil.example/x", "http:evil.example", "javascript:alert(1)", "//user@evil.example",
		"/\x00/evil.example", "/\x7f/evil.example", "evil.example",
	}
	for _, next := range hostile {
		// The form carried in a link drops the target...
		form := e.browser().get("/signin?next=" + url.QueryEscape(next))
		got := html.UnescapeString(regexpFind(t, form.Body, `name="next" value="([^"]*)"`))
		if u := browserResolve(t, e.url, got); got != "" && u.Host != host {
			t.Errorf("next %q: the form keeps %q", next, got)
		}
		// ...and so does the sign-in itself, whatever the form posted.
		b := e.browser()
		page := b.get("/signin")
		p := b.post("/signin", url.Values{"csrf_token": {csrfOf(t, page)}, "email": {"ana@acme.test"}, "password": {password}, "next": {next}})
		loc := p.Header.Get("Location")
		if p.Status != http.StatusSeeOther || browserResolve(t, e.url, loc).Host != host || loc != "/" {
			t.Errorf("next %q: signed in to %d %q, want / on this site", next, p.Status, loc)
		}
	}
	b := e.browser()
	page := b.get("/signin")
	p := b.post("/signin", url.Values{"csrf_token": {csrfOf(t, page)}, "email": {"ana@acme.test"}, "password": {password}, "next": {"/knowledge?category=FAQ"}})
	if loc := p.Header.Get("Location"); loc != "/knowledge?category=FAQ" {
		t.Fatalf("a local deep link after sign-in goes to %q", loc)
	}
}

// Posts without the form's token are refused before they count: however many
// come from one address, the real user still signs in.
func TestTokenlessPostsDoNotLockOutSignIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, nil)
	e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	attacker := e.browser()
	for i := 0; i < 30; i++ {
		if p := attacker.post("/signin", url.Values{"email": {"ana@acme.test"}, "password": {"guess"}}); p.Status != http.StatusForbidden {
			t.Fatalf("token-less post %d: %d, want 403", i+1, p.Status)
		}
	}
	if p := e.browser().signIn("ana@acme.test", password); p.Status != http.StatusSeeOther {
		t.Fatalf("the real sign-in after 30 token-less posts: %d, want 303", p.Status)
	}
}

// Only failed attempts count, and per account and address: wrong passwords
// for one account do not lock out another account behind the same address,
// and signing in often is not an attack.
func TestOnlyFailedSignInsCountPerAccountAndAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, func(d *dashboard.Deps) { d.SignInLimit = 3 })
	tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	if _, err := createUser(e, tn.ID, "bob@acme.test"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if p := e.browser().signIn("bob@acme.test", password); p.Status != http.StatusSeeOther {
			t.Fatalf("bob's sign-in %d: %d, want 303 (successes do not count)", i+1, p.Status)
		}
	}
	for i := 0; i < 3; i++ {
		if p := e.browser().signIn("ana@acme.test", "wrong password!"); p.Status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i+1, p.Status)
		}
	}
	if p := e.browser().signIn("ANA@acme.test", password); p.Status != http.StatusTooManyRequests {
		t.Fatalf("ana after 3 failures: %d, want 429", p.Status)
	}
	if p := e.browser().signIn("bob@acme.test", password); p.Status != http.StatusSeeOther {
		t.Fatalf("bob from the same address after ana's failures: %d, want 303", p.Status)
	}
}

// Behind a configured proxy, each client's own address counts, read from
// X-Forwarded-For; from any other peer that header is ignored, so a client
// cannot pick the address it is counted under.
func TestSignInFailuresCountPerClientBehindATrustedProxy(t *testing.T) {
	t.Parallel()
	signInFrom := func(b *browser, xff, pw string) page {
		form := b.get("/signin")
		return b.post("/signin", url.Values{"csrf_token": {csrfOf(t, form)}, "email": {"ana@acme.test"}, "password": {pw}}, "X-Forwarded-For", xff)
	}
	proxied := newEnv(t, store.SQLite, func(d *dashboard.Deps) {
		d.SignInLimit = 3
		d.TrustedProxies = ratelimit.Proxies{netip.MustParsePrefix("127.0.0.0/8")}
	})
	proxied.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	for i := 0; i < 3; i++ {
		// The client wrote the left-most entry; the proxy appended the real one.
		if p := signInFrom(proxied.browser(), "10.9.9.9, 203.0.113.5", "wrong password!"); p.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, p.Status)
		}
	}
	if p := signInFrom(proxied.browser(), "203.0.113.5", password); p.Status != http.StatusTooManyRequests {
		t.Fatalf("ana from the failing client: %d, want 429", p.Status)
	}
	if p := signInFrom(proxied.browser(), "198.51.100.7", password); p.Status != http.StatusSeeOther {
		t.Fatalf("ana from another client behind the same proxy: %d, want 303", p.Status)
	}

	direct := newEnv(t, store.SQLite, func(d *dashboard.Deps) { d.SignInLimit = 3 })
	direct.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	for i := 0; i < 3; i++ {
		signInFrom(direct.browser(), fmt.Sprintf("203.0.113.%d", i), "wrong password!")
	}
	if p := signInFrom(direct.browser(), "198.51.100.7", password); p.Status != http.StatusTooManyRequests {
		t.Fatalf("X-Forwarded-For from an untrusted peer changed the address counted: %d, want 429", p.Status)
	}
}

// /static/ serves its files, never a listing of them.
func TestStaticDoesNotListItsDirectory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, nil)
	b := e.browser()
	for _, path := range []string{"/static/", "/static/?C=M;O=D"} {
		if p := b.get(path); p.Status != http.StatusNotFound || strings.Contains(p.Body, "htmx.min.js") {
			t.Errorf("GET %s: %d, lists files: %v; want 404", path, p.Status, strings.Contains(p.Body, "htmx.min.js"))
		}
	}
	if p := b.get("/static/htmx.min.js"); p.Status != http.StatusOK {
		t.Fatalf("GET /static/htmx.min.js: %d", p.Status)
	}
}

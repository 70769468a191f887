package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/dashboard"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

func TestSignInAndOut(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
		b := e.browser()

		if p := b.get("/"); p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/signin" {
			t.Fatalf("inbox without a session: %d %q, want a redirect to /signin", p.Status, p.Header.Get("Location"))
		}
		if p := b.get("/knowledge?category=FAQ"); p.Header.Get("Location") != "/signin?next="+url.QueryEscape("/knowledge?category=FAQ") {
			t.Fatalf("deep link without a session goes to %q", p.Header.Get("Location"))
		}
		for _, email := range []string{"ana@acme.test", "nobody@acme.test"} {
			p := b.signIn(email, "wrong password!")
			if p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "The e-mail or the password is wrong.") {
				t.Fatalf("wrong password for %s: %d\n%s", email, p.Status, p.Body)
			}
			if b.cookie("parley_session") != nil {
				t.Fatal("a refused sign-in set a session cookie")
			}
		}

		p := b.signIn("ANA@acme.test", password)
		if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/" {
			t.Fatalf("sign in: %d %q", p.Status, p.Header.Get("Location"))
		}
		setCookie := strings.Join(p.Header.Values("Set-Cookie"), "\n")
		for _, want := range []string{"parley_session=", "HttpOnly", "SameSite=Lax"} {
			if !strings.Contains(setCookie, want) {
				t.Fatalf("session cookie %q lacks %s", setCookie, want)
			}
		}
		if strings.Contains(setCookie, "Secure") {
			t.Fatalf("cookie marked Secure on plain HTTP without an https public URL: %q", setCookie)
		}
		home := b.get("/")
		if home.Status != http.StatusOK || !strings.Contains(home.Body, "Acme user") || !strings.Contains(home.Body, "Inbox") {
			t.Fatalf("inbox after sign-in: %d\n%s", home.Status, home.Body)
		}
		stolen := *b.cookie("parley_session")

		out := b.post("/signout", url.Values{"csrf_token": {csrfOf(t, home)}})
		if out.Status != http.StatusSeeOther || out.Header.Get("Location") != "/signin" {
			t.Fatalf("sign out: %d %q", out.Status, out.Header.Get("Location"))
		}
		// The old cookie value is dead on the server, not just forgotten by the browser.
		replay := e.browser()
		u, _ := url.Parse(e.url)
		replay.jar.SetCookies(u, []*http.Cookie{{Name: stolen.Name, Value: stolen.Value}})
		if p := replay.get("/"); p.Status != http.StatusSeeOther {
			t.Fatalf("revoked session still opens the inbox: %d", p.Status)
		}
	})
}

func TestSessionsExpire(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, func(d *dashboard.Deps) { d.SessionTTL = time.Hour })
	e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	b := e.browser()
	b.mustSignIn("ana@acme.test")
	e.clk.Advance(time.Hour)
	if p := b.get("/"); p.Status != http.StatusSeeOther {
		t.Fatalf("inbox after the session expired: %d, want a redirect to sign in", p.Status)
	}
}

func TestSecureCookieBehindHTTPS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, func(d *dashboard.Deps) { d.PublicURL = "https://parley.example.com" })
	e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	p := e.browser().signIn("ana@acme.test", password)
	if c := strings.Join(p.Header.Values("Set-Cookie"), "\n"); p.Status != http.StatusSeeOther || !strings.Contains(c, "Secure") {
		t.Fatalf("sign in behind https: %d, cookies %q; want Secure", p.Status, c)
	}
}

func TestSignInFormNeedsItsOwnToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, nil)
	e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	// A cross-site form post has neither the sign-in cookie nor its token.
	p := e.browser().post("/signin", url.Values{"email": {"ana@acme.test"}, "password": {password}})
	if p.Status != http.StatusForbidden || strings.Contains(strings.Join(p.Header.Values("Set-Cookie"), ""), "parley_session=") {
		t.Fatalf("sign-in without the form's token: %d, want 403 and no session", p.Status)
	}
}

func TestSignInIsRateLimitedPerAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, func(d *dashboard.Deps) { d.SignInLimit = 3 })
	e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	b := e.browser()
	for i := 0; i < 3; i++ {
		if p := b.signIn("ana@acme.test", "wrong password!"); p.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, p.Status)
		}
	}
	p := b.signIn("ana@acme.test", password)
	if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") != "60" {
		t.Fatalf("fourth attempt in a minute: %d Retry-After %q, want 429 and 60", p.Status, p.Header.Get("Retry-After"))
	}
	e.clk.Advance(time.Minute)
	if p := b.signIn("ana@acme.test", password); p.Status != http.StatusSeeOther {
		t.Fatalf("after the window: %d, want a successful sign-in", p.Status)
	}
}

func TestFormsWithoutTheCSRFTokenAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, nil)
	tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	b := e.browser()
	token := b.mustSignIn("ana@acme.test")
	doc := url.Values{"title": {"Opening hours"}, "category": {"FAQ"}, "body": {"9 to 5"}}

	if p := b.post("/knowledge/new", doc); p.Status != http.StatusForbidden {
		t.Fatalf("form without a token: %d, want 403", p.Status)
	}
	bad := url.Values{"csrf_token": {"forged"}}
	for k, v := range doc {
		bad[k] = v
	}
	if p := b.post("/knowledge/new", bad); p.Status != http.StatusForbidden {
		t.Fatalf("form with a wrong token: %d, want 403", p.Status)
	}
	// Another session's token does not fit this session either.
	other := e.browser()
	otherToken := other.mustSignIn("ana@acme.test")
	bad.Set("csrf_token", otherToken)
	if p := b.post("/knowledge/new", bad); p.Status != http.StatusForbidden {
		t.Fatalf("form with another session's token: %d, want 403", p.Status)
	}
	if docs, _, _ := e.st.ListDocuments(context.Background(), tn.ID, "", store.Page{}); len(docs) != 0 {
		t.Fatalf("refused forms stored %d documents", len(docs))
	}
	if p := b.post("/signout", url.Values{}); p.Status != http.StatusForbidden {
		t.Fatalf("sign out without a token: %d, want 403", p.Status)
	}

	// htmx sends the token as a header; the answer tells htmx where to go.
	p := b.post("/knowledge/new", doc, "X-CSRF-Token", token, "HX-Request", "true")
	if p.Status != http.StatusOK || p.Header.Get("HX-Redirect") == "" {
		t.Fatalf("htmx post with the header token: %d %v", p.Status, p.Header)
	}
	ok := url.Values{"csrf_token": {token}}
	for k, v := range doc {
		ok[k] = v
	}
	if p := b.post("/knowledge/new", ok); p.Status != http.StatusSeeOther {
		t.Fatalf("form with the token: %d\n%s", p.Status, p.Body)
	}
	if docs, _, _ := e.st.ListDocuments(context.Background(), tn.ID, "", store.Page{}); len(docs) != 2 {
		t.Fatalf("accepted forms stored %d documents, want 2", len(docs))
	}
}

func TestAgentsDoNotSeeSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, nil)
	e.tenantWithUser("Acme", "agent@acme.test", parley.UserAgent)
	b := e.browser()
	b.mustSignIn("agent@acme.test")
	home := b.get("/")
	if strings.Contains(home.Body, `href="/settings"`) {
		t.Fatal("an agent's navigation links to settings")
	}
	if p := b.get("/settings/api-keys"); p.Status != http.StatusForbidden {
		t.Fatalf("agent opens API keys: %d, want 403", p.Status)
	}
}

func TestCreateUserRejectsBadInput(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite, nil)
	ctx := context.Background()
	tn, _ := st.CreateTenant(ctx, parley.Tenant{Name: "Acme"})
	good := dashboard.NewUser{TenantID: tn.ID, Email: "ana@acme.test", Name: "Ana", Password: password}
	cases := []struct {
		name  string
		edit  func(*dashboard.NewUser)
		field string
	}{
		{"bad email", func(u *dashboard.NewUser) { u.Email = "ana at acme" }, "email"},
		{"no name", func(u *dashboard.NewUser) { u.Name = " " }, "name"},
		{"short password", func(u *dashboard.NewUser) { u.Password = "short" }, "password"},
		{"long password", func(u *dashboard.NewUser) { u.Password = strings.Repeat("x", 73) }, "password"},
		{"bad role", func(u *dashboard.NewUser) { u.Role = "owner" }, "role"},
		{"unknown tenant", func(u *dashboard.NewUser) { u.TenantID = "nope" }, "tenant"},
		{"unknown agent", func(u *dashboard.NewUser) { u.AgentID = "nope" }, "agent"},
	}
	for _, tc := range cases {
		u := good
		tc.edit(&u)
		_, err := dashboard.CreateUser(ctx, st, u)
		var pe *parley.Error
		if err == nil || !errorsAs(err, &pe) || pe.Field != tc.field {
			t.Errorf("%s: %v, want a field error on %s", tc.name, err, tc.field)
		}
	}
	if users, _, _ := st.ListUsers(ctx, tn.ID, store.Page{}); len(users) != 0 {
		t.Fatalf("bad input stored %d users", len(users))
	}
	u, err := dashboard.CreateUser(ctx, st, good)
	if err != nil || u.Role != parley.UserAdmin || u.PasswordHash == "" || strings.Contains(u.PasswordHash, password) {
		t.Fatalf("create = %+v, %v", u, err)
	}
}

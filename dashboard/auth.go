package dashboard

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/clock"
)

const (
	sessionCookie = "parley_session"
	// signInCookie carries the sign-in form's CSRF token before any session
	// exists (double submit), so another site cannot sign a browser in to
	// an account of its choosing.
	signInCookie = "parley_signin"
	csrfField    = "csrf_token"
	csrfHeader   = "X-CSRF-Token"
)

// randomToken returns n random bytes, URL-safe encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func equalTokens(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// session resolves the request's cookie to a live session with its user
// and tenant.
func (d *Dashboard) session(r *http.Request) (*Session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	sess, user, err := d.store.SessionByToken(ctx, hashToken(c.Value), d.clock.Now())
	if err != nil {
		return nil, err
	}
	tenant, err := d.store.GetTenant(ctx, sess.TenantID)
	if err != nil {
		return nil, err
	}
	return &Session{Session: sess, User: user, Tenant: tenant}, nil
}

// csrfOK checks a POST's token (form field, or header for htmx) against
// the session's.
func (d *Dashboard) csrfOK(r *http.Request, want string) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.PostFormValue(csrfField)
	}
	return equalTokens(got, want)
}

// secure tells whether cookies must be marked Secure.
func (d *Dashboard) secure(r *http.Request) bool { return r.TLS != nil || d.secureURL }

func (d *Dashboard) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int, site http.SameSite) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: d.secure(r), SameSite: site})
}

type signInData struct {
	Email, Next, Error string
	Token              string
}

func (d *Dashboard) signInForm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if _, err := d.session(r); err == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	d.showSignIn(w, r, http.StatusOK, signInData{Next: localPath(r.URL.Query().Get("next"))})
}

func (d *Dashboard) showSignIn(w http.ResponseWriter, r *http.Request, status int, data signInData) {
	data.Token = randomToken(24)
	d.setCookie(w, r, signInCookie, data.Token, 3600, http.SameSiteStrictMode)
	if err := d.render(w, r, nil, status, "signin", data); err != nil {
		d.log.ErrorContext(r.Context(), "render sign-in", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

func (d *Dashboard) signIn(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	data := signInData{Email: strings.TrimSpace(r.PostFormValue("email")), Next: localPath(r.PostFormValue("next"))}
	// The form's token first: a post without it (another site, a script
	// hammering the form) is refused before it can count against anyone.
	c, err := r.Cookie(signInCookie)
	if err != nil || !equalTokens(r.PostFormValue(csrfField), c.Value) {
		data.Error = "The sign-in form expired. Please try again."
		d.showSignIn(w, r, http.StatusForbidden, data)
		return
	}
	// Failures count per account and client address, so guessing one
	// account's password from one place cannot lock out other accounts, or
	// the same account from elsewhere (behind a shared proxy, too).
	ip := d.proxies.ClientIP(r)
	key := strings.ToLower(data.Email) + "\x00" + ip
	if blocked, wait := d.limiter.blocked(key); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
		data.Error = "Too many failed sign-ins for this account from your address. Wait a minute and try again."
		d.showSignIn(w, r, http.StatusTooManyRequests, data)
		return
	}
	password := r.PostFormValue("password")
	user, err := d.store.UserByEmail(ctx, data.Email)
	if err != nil && parley.ErrorCode(err) != parley.CodeNotFound {
		d.log.ErrorContext(ctx, "sign-in lookup failed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hash := []byte(user.PasswordHash)
	if err != nil {
		hash = d.dummyHash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || err != nil {
		d.limiter.fail(key)
		d.log.InfoContext(ctx, "dashboard sign-in refused", "ip", ip)
		data.Error = "The e-mail or the password is wrong."
		d.showSignIn(w, r, http.StatusUnauthorized, data)
		return
	}
	token := randomToken(32)
	sess, err := d.store.CreateSession(ctx, parley.Session{TenantID: user.TenantID, UserID: user.ID, CSRFToken: randomToken(32),
		ExpiresAt: d.clock.Now().Add(d.ttl)}, hashToken(token))
	if err != nil {
		d.log.ErrorContext(ctx, "create session failed", "tenant_id", user.TenantID, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	d.log.InfoContext(ctx, "dashboard sign-in", "tenant_id", user.TenantID, "user_id", user.ID, "session_id", sess.ID)
	d.setCookie(w, r, signInCookie, "", -1, http.SameSiteStrictMode)
	d.setCookie(w, r, sessionCookie, token, int(d.ttl/time.Second), http.SameSiteLaxMode)
	next := data.Next
	if next == "" {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (d *Dashboard) signOut(w http.ResponseWriter, r *http.Request, s *Session) error {
	if err := d.store.RevokeSession(r.Context(), s.TenantID, s.ID); err != nil {
		return err
	}
	d.setCookie(w, r, sessionCookie, "", -1, http.SameSiteLaxMode)
	return redirect(w, r, "/signin")
}

// localPath keeps a post-sign-in target only if it is a path of this site
// as a browser reads it. Browsers drop tabs and newlines inside a URL and
// read a backslash as a slash, so "/<tab>/evil.example" leads off-site:
// controls, spaces, backslashes, a leading "//", a scheme or a host make it
// "" (go to the inbox).
func localPath(p string) string {
	if len(p) > 2048 || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return ""
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f || r == '\\' {
			return ""
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return ""
	}
	return p
}

// limiter counts events (failed sign-ins) per key in a fixed window of time.
type limiter struct {
	mu     sync.Mutex
	clock  clock.Clock
	limit  int
	window time.Duration
	hits   map[string]*window
}

type window struct {
	start time.Time
	count int
}

func newLimiter(c clock.Clock, limit int, per time.Duration) *limiter {
	return &limiter{clock: c, limit: limit, window: per, hits: map[string]*window{}}
}

// blocked tells whether key has used up its window; if so, how long until
// the window reopens. It counts nothing.
func (l *limiter) blocked(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	w, ok := l.hits[key]
	if !ok || now.Sub(w.start) >= l.window || w.count < l.limit {
		return false, 0
	}
	return true, max(w.start.Add(l.window).Sub(now), time.Second)
}

// fail counts one event for key.
func (l *limiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if len(l.hits) > 10000 {
		for k, w := range l.hits {
			if now.Sub(w.start) >= l.window {
				delete(l.hits, k)
			}
		}
	}
	w, ok := l.hits[key]
	if !ok || now.Sub(w.start) >= l.window {
		w = &window{start: now}
		l.hits[key] = w
	}
	w.count++
}

package dashboard

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
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
	if ok, wait := d.limiter.allow(clientIP(r)); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
		data.Error = "Too many sign-in attempts from your address. Wait a minute and try again."
		d.showSignIn(w, r, http.StatusTooManyRequests, data)
		return
	}
	c, err := r.Cookie(signInCookie)
	if err != nil || !equalTokens(r.PostFormValue(csrfField), c.Value) {
		data.Error = "The sign-in form expired. Please try again."
		d.showSignIn(w, r, http.StatusForbidden, data)
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
		d.log.InfoContext(ctx, "dashboard sign-in refused", "ip", clientIP(r))
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

// localPath keeps a post-sign-in target only if it stays on this site.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return ""
	}
	return p
}

// clientIP is the peer address. Forwarded headers are not trusted: behind
// a reverse proxy every client shares the proxy's limit.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limiter allows a number of events per key in a fixed window of time.
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

// allow counts one event for key; when over the limit it says how long
// until the window reopens.
func (l *limiter) allow(key string) (bool, time.Duration) {
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
	if w.count >= l.limit {
		wait := w.start.Add(l.window).Sub(now)
		if wait < time.Second {
			wait = time.Second
		}
		return false, wait
	}
	w.count++
	return true, 0
}

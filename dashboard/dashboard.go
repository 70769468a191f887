// Package dashboard is the web app that a tenant's staff and agents work
// in, served at / by `parley serve`. Pages are rendered on the server with
// html/template; htmx (embedded, see static/README.md) adds small in-place
// updates such as toggles. Every page needs a signed-in session, and every
// form carries the session's CSRF token.
package dashboard

import (
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/conversation"
	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/hooks"
	"github.com/parleyhq/parley/knowledge"
	"github.com/parleyhq/parley/leads"
	"github.com/parleyhq/parley/notify"
	"github.com/parleyhq/parley/ratelimit"
	"github.com/parleyhq/parley/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Deps is what the dashboard needs from the rest of the system.
type Deps struct {
	Store  *store.Store
	Logger *slog.Logger
	Clock  clock.Clock
	// PublicURL is the server's public base URL; an https:// one marks the
	// session cookie Secure even when TLS ends at a proxy.
	PublicURL string
	// SessionTTL is how long a sign-in lasts; default 12 hours.
	SessionTTL time.Duration
	// SignInLimit is how many failed sign-ins one account may have from one
	// client address per minute; default 10.
	SignInLimit int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client address (PARLEY_TRUSTED_PROXIES); empty trusts none.
	TrustedProxies ratelimit.Proxies
	// Notifications, when set, adds the Notifications page.
	Notifications *notify.Service
	// Webhooks, when set, adds Settings → Webhooks.
	Webhooks *hooks.Service

	// Conversations is the human side of the flow (tickets: reply, assign,
	// close); nil leaves the Tickets page out.
	Conversations *conversation.Service
	// Leads writes lead sequences for the Leads page's tester; nil leaves it out.
	Leads *leads.Service
	// Knowledge is the AI agent's retriever, for the knowledge search;
	// default the full-text retriever of the store's engine.
	Knowledge knowledge.Retriever
	// FollowUps makes a saved follow-up rule reach the conversations
	// already silent (its back-fill); nil leaves that out.
	FollowUps *followup.Service
	// Broadcasts serves the broadcast pages; nil leaves them out.
	Broadcasts *campaign.Broadcasts
	// Templates reads WhatsApp Business Accounts' templates for the New
	// broadcast form's Sync templates button; nil leaves the button out.
	Templates campaign.Lister
}

// Dashboard serves the web app.
type Dashboard struct {
	store     *store.Store
	log       *slog.Logger
	clock     clock.Clock
	secureURL bool
	ttl       time.Duration
	limiter   *limiter
	proxies   ratelimit.Proxies
	// dummyHash is compared against when the e-mail is unknown, so a wrong
	// address takes as long as a wrong password and reveals nothing.
	dummyHash []byte

	mux      *http.ServeMux
	views    *views
	nav      []navItem
	notify   *notify.Service
	webhooks *hooks.Service
	patterns []string // every page route, "METHOD /path", for tests that must cover them all

	conversations *conversation.Service
	leads         *leads.Service
	knowledge     knowledge.Retriever
	publicURL     string
	followUpSvc   *followup.Service
	broadcasts    *campaign.Broadcasts
	templates     campaign.Lister
}

// Page is one section of the dashboard.
//
// Each section of the dashboard is a Page: a navigation entry plus the
// routes it mounts. Adding a section is one page_*.go file with its
// templates/*.html, listed in pages().
type Page struct {
	Name  string // navigation label
	Path  string // navigation link
	Admin bool   // only admins see it and may open its routes
	// Routes mounts the page's handlers. It is nil for a page whose
	// dependencies are not wired, which leaves the page out.
	Routes func(r Routes)
}

type navItem struct {
	Name, Path string
	Admin      bool
}

// pages lists the dashboard's sections in navigation order.
func (d *Dashboard) pages() []Page {
	return []Page{
		d.inboxPage(),
		d.ticketsPage(),
		d.followUpsPage(),
		d.knowledgePage(),
		d.notificationsPage(),
		d.leadsPage(),
		d.broadcastsPage(),
		d.settingsPage(),
	}
}

// New builds the dashboard.
func New(deps Deps) (*Dashboard, error) {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Clock == nil {
		deps.Clock = clock.Real{}
	}
	if deps.SessionTTL <= 0 {
		deps.SessionTTL = 12 * time.Hour
	}
	if deps.SignInLimit <= 0 {
		deps.SignInLimit = 10
	}
	v, err := loadViews()
	if err != nil {
		return nil, err
	}
	d := &Dashboard{
		store: deps.Store, log: deps.Logger, clock: deps.Clock, ttl: deps.SessionTTL,
		secureURL: strings.HasPrefix(strings.ToLower(deps.PublicURL), "https://"),
		limiter:   newLimiter(deps.Clock, deps.SignInLimit, time.Minute),
		proxies:   deps.TrustedProxies,
		mux:       http.NewServeMux(), views: v, notify: deps.Notifications, webhooks: deps.Webhooks,
		conversations: deps.Conversations, leads: deps.Leads, knowledge: deps.Knowledge,
		publicURL: strings.TrimRight(deps.PublicURL, "/"), followUpSvc: deps.FollowUps,
		broadcasts: deps.Broadcasts, templates: deps.Templates,
	}
	if d.knowledge == nil && deps.Store != nil {
		d.knowledge = knowledge.New()
	}
	if d.dummyHash, err = bcrypt.GenerateFromPassword([]byte(randomToken(16)), bcrypt.DefaultCost); err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	files := http.FileServerFS(static)
	d.mux.Handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Files only: a directory would be answered with a listing.
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})))
	d.mux.HandleFunc("GET /signin", d.signInForm)
	d.mux.HandleFunc("POST /signin", d.signIn)
	d.mux.Handle("POST /signout", d.wrap(d.signOut, false, true))
	for _, p := range d.pages() {
		if p.Routes == nil {
			continue
		}
		p.Routes(Routes{d: d, admin: p.Admin})
		d.nav = append(d.nav, navItem{Name: p.Name, Path: p.Path, Admin: p.Admin})
	}
	return d, nil
}

// ServeHTTP serves the dashboard with its security headers.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Scripts and styles only from our own embedded files: no inline code,
	// so injected markup cannot run.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if _, pattern := d.mux.Handler(r); pattern == "" {
		d.notFound(w, r)
		return
	}
	d.mux.ServeHTTP(w, r)
}

func (d *Dashboard) notFound(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		// Unknown API paths reach the dashboard's catch-all; answer them
		// in the API's own error shape.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":{"code":"not_found","message":"no such API route"}}`))
		return
	}
	d.errorPage(w, r, nil, http.StatusNotFound, "Not found", "There is nothing here, or it belongs to someone else.")
}

// Routes mounts a page's handlers behind sign-in (and, for admin pages,
// the admin role). POST handlers also need the session's CSRF token.
type Routes struct {
	d     *Dashboard
	admin bool
}

// Get mounts a GET handler; pattern is a ServeMux path pattern.
func (rt Routes) Get(pattern string, h Handler) {
	rt.d.mux.Handle("GET "+pattern, rt.d.wrap(h, rt.admin, false))
	rt.d.patterns = append(rt.d.patterns, "GET "+pattern)
}

// Post mounts a POST handler.
func (rt Routes) Post(pattern string, h Handler) {
	rt.d.mux.Handle("POST "+pattern, rt.d.wrap(h, rt.admin, true))
	rt.d.patterns = append(rt.d.patterns, "POST "+pattern)
}

// Patterns lists every signed-in page route as "METHOD /path/{id}", so a
// test can cover each one (e.g. tenant isolation on every page with an id).
func (d *Dashboard) Patterns() []string { return append([]string(nil), d.patterns...) }

// Handler serves one signed-in request. A returned error becomes the error
// page: not found as 404, anything unexpected as a logged 500.
type Handler func(w http.ResponseWriter, r *http.Request, s *Session) error

// Session is the signed-in user behind a request.
type Session struct {
	parley.Session
	User   parley.User
	Tenant parley.Tenant
}

// IsAdmin reports whether the user may change settings.
func (s *Session) IsAdmin() bool { return s.User.Role == parley.UserAdmin }

func (d *Dashboard) wrap(h Handler, admin, post bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		s, err := d.session(r)
		if err != nil {
			d.toSignIn(w, r)
			return
		}
		ctx := r.Context()
		if post {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if !d.csrfOK(r, s.CSRFToken) {
				d.log.WarnContext(ctx, "dashboard form without a valid CSRF token", "tenant_id", s.TenantID, "path", r.URL.Path)
				d.errorPage(w, r, s, http.StatusForbidden, "Form expired", "This form was not sent from this dashboard session. Reload the page and try again.")
				return
			}
		}
		if admin && !s.IsAdmin() {
			d.errorPage(w, r, s, http.StatusForbidden, "Not allowed", "Only admins can open this page.")
			return
		}
		if err := h(w, r, s); err != nil {
			d.handleErr(w, r, s, err)
		}
	})
}

func (d *Dashboard) handleErr(w http.ResponseWriter, r *http.Request, s *Session, err error) {
	if parley.ErrorCode(err) == parley.CodeNotFound {
		d.errorPage(w, r, s, http.StatusNotFound, "Not found", "There is nothing here, or it belongs to someone else.")
		return
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		d.errorPage(w, r, s, http.StatusRequestEntityTooLarge, "Too large", "The form is over 1 MiB.")
		return
	}
	d.log.ErrorContext(r.Context(), "dashboard request failed", "tenant_id", s.TenantID, "path", r.URL.Path, "err", err)
	d.errorPage(w, r, s, http.StatusInternalServerError, "Something went wrong", "The error was logged. Try again in a moment.")
}

// toSignIn sends a visitor without a session to the sign-in page, and back
// to where they were going afterwards.
func (d *Dashboard) toSignIn(w http.ResponseWriter, r *http.Request) {
	target := "/signin"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?next=" + urlQueryEscape(r.URL.RequestURI())
	}
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// redirect answers a successful form post (post/redirect/get). An htmx
// request is told to navigate instead, so the whole page reloads.
func redirect(w http.ResponseWriter, r *http.Request, to string) error {
	if isHTMX(r) {
		w.Header().Set("HX-Redirect", to)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

func isHTMX(r *http.Request) bool { return r.Header.Get("HX-Request") == "true" }

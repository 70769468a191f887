// Package web is Parley's HTTP face: the JSON API with its OpenAPI document,
// health and metrics endpoints, and the place where channel webhooks and the
// dashboard are mounted.
package web

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/conversation"
	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/hooks"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/notify"
	"github.com/parleyhq/parley/ratelimit"
	"github.com/parleyhq/parley/store"
)

// Deps is what the server needs from the rest of the system.
type Deps struct {
	Store    *store.Store
	Logger   *slog.Logger
	Registry *prometheus.Registry
	Version  string
	// ChannelSaved runs in the transaction that creates or changes a
	// channel, to enqueue the work that follows (a credentials check).
	ChannelSaved func(ctx context.Context, q *store.Queries, c parley.Channel) error
	// Jobs lists background jobs for GET /api/jobs.
	Jobs *jobs.Inserter
	// APILimit limits /api calls per tenant, WebhookLimit webhook calls per
	// client IP; nil means no limit.
	APILimit, WebhookLimit *ratelimit.Keyed
	// Conversations is the conversation flow: tickets and conversation
	// commands (web/tickets.go); its AgentSaved runs when an agent is saved.
	Conversations *conversation.Service
	// Leads delivers lead sequences; nil leaves their routes out.
	Leads LeadSequences
	// FollowUps, when set, serves follow-up rules, stats and appointments.
	FollowUps *followup.Service
	// Notifications is the merchant notifications (web/notifications.go).
	Notifications *notify.Service
	// Webhooks, when set, serves the tenants' webhook subscriptions.
	Webhooks *hooks.Service
	// Templates lists WhatsApp Business Accounts' templates for
	// POST /api/templates/sync; nil leaves that route out.
	Templates campaign.Lister
	// Broadcasts, when set, serves /api/broadcasts and customers' tags and consent.
	Broadcasts *campaign.Broadcasts
	// EventBacklog, when set, reports the events waiting for the event bus
	// (shown by /readyz).
	EventBacklog func() int64
	// TrustedProxies name the client address behind a reverse proxy, for
	// the webhook limit; empty keys it by the peer.
	TrustedProxies ratelimit.Proxies
	// MetricsToken, when set, is the bearer token GET /metrics requires.
	MetricsToken string
}

// Server routes HTTP requests.
type Server struct {
	store *store.Store
	log   *slog.Logger
	mux   *http.ServeMux
	api   huma.API
	reg   *prometheus.Registry

	channelSaved func(ctx context.Context, q *store.Queries, c parley.Channel) error
	jobs         *jobs.Inserter
	apiLimit     *ratelimit.Keyed
	hookLimit    *ratelimit.Keyed
	proxies      ratelimit.Proxies

	conversations *conversation.Service
	eventBacklog  func() int64

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// bearer is the security requirement of every /api operation.
var bearer = []map[string][]string{{"bearer": {}}}

// New builds the server with the core API mounted. Feature packages add
// their routes through API() and Handle before serving starts.
func New(d Deps) *Server {
	useErrorModel()
	s := &Server{store: d.Store, log: d.Logger, mux: http.NewServeMux(), reg: d.Registry, channelSaved: d.ChannelSaved, jobs: d.Jobs,
		apiLimit: d.APILimit, hookLimit: d.WebhookLimit, proxies: d.TrustedProxies, eventBacklog: d.EventBacklog}
	if s.apiLimit == nil {
		s.apiLimit = ratelimit.New(0, 0, nil)
	}
	if s.hookLimit == nil {
		s.hookLimit = ratelimit.New(0, 0, nil)
	}
	s.conversations = d.Conversations
	if s.channelSaved == nil {
		s.channelSaved = func(context.Context, *store.Queries, parley.Channel) error { return nil }
	}
	cfg := huma.DefaultConfig("Parley API", d.Version)
	cfg.Info.Description = "Parley's JSON API. Every /api call needs Authorization: Bearer <API key>; errors are {\"error\": {\"code\", \"message\"}}."
	cfg.OpenAPIPath = "/openapi"
	cfg.DocsPath = ""     // the docs renderer loads scripts from a CDN
	cfg.CreateHooks = nil // no $schema links in responses
	cfg.SchemasPath = ""  //
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "A tenant API key from `parley tenant create`."},
	}
	s.api = humago.New(s.mux, cfg)
	s.api.UseMiddleware(s.requireAPIKey)

	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_http_requests_total", Help: "HTTP requests by route and status."}, []string{"route", "code"})
	s.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "parley_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"route"})
	if s.reg != nil {
		s.reg.MustRegister(s.requests, s.duration)
		s.mux.Handle("GET /metrics", requireToken(d.MetricsToken, promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})))
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)

	s.registerTenant()
	s.registerUsage()
	s.registerTemplates(d.Templates)
	s.registerDirectory()
	s.registerCustomerLink()
	s.registerConversations()
	s.registerJobs()
	s.registerTickets()
	s.registerLeads()
	s.registerLeadActivity(d.Leads)
	if d.FollowUps != nil {
		s.registerFollowUps(d.FollowUps)
	}
	s.registerNotifications(d.Notifications)
	if d.Webhooks != nil {
		s.registerWebhooks(d.Webhooks)
	}
	if d.Broadcasts != nil {
		s.registerBroadcasts(d.Broadcasts)
	}
	// Below /api the dashboard's "/" must not answer: an unknown path is a
	// JSON 404, a known path with another method a 405 naming the allowed ones.
	s.mux.HandleFunc("/api/", s.apiFallback)
	return s
}

// apiFallback answers an /api request no operation took.
func (s *Server) apiFallback(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/api/" && pattern != "/" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeJSONError(w, &ErrorBody{status: http.StatusMethodNotAllowed, Err: ErrorDetail{Code: parley.CodeInvalid,
			Message: r.Method + " is not allowed on " + r.URL.Path + "; allowed: " + strings.Join(allowed, ", ")}})
		return
	}
	writeJSONError(w, &ErrorBody{status: http.StatusNotFound, Err: ErrorDetail{Code: parley.CodeNotFound, Message: "no such API route: " + r.URL.Path}})
}

// API is the huma API, for feature packages to register operations on.
func (s *Server) API() huma.API { return s.api }

// Handle mounts a plain handler, such as a webhook or the dashboard.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Store returns the store the server reads.
func (s *Server) Store() *store.Store { return s.store }

// Handler is the whole HTTP surface, instrumented.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		if strings.HasPrefix(r.URL.Path, "/webhooks/") {
			// Keyed by the client address: the peer, or what a trusted
			// proxy says it is.
			if ok, after := s.hookLimit.Allow(s.proxies.ClientIP(r)); !ok {
				rec.Header().Set("Retry-After", strconv.Itoa(int(after.Seconds())))
				writeJSONError(rec, &ErrorBody{status: http.StatusTooManyRequests, Err: ErrorDetail{Code: parley.CodeRateLimited, Message: "too many webhook requests from this address"}})
				s.requests.WithLabelValues("webhooks rate limited", "429").Inc()
				return
			}
		}
		s.mux.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		s.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
		s.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness check failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"unavailable","error":{"code":"database_unreachable","message":"the database does not answer"}}`))
		return
	}
	if s.eventBacklog != nil {
		fmt.Fprintf(w, `{"status":"ready","database":%q,"event_backlog":%d}`, s.store.Engine(), s.eventBacklog())
		return
	}
	w.Write([]byte(`{"status":"ready","database":"` + string(s.store.Engine()) + `"}`))
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the real writer (flush, deadlines).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func writeJSONError(w http.ResponseWriter, e *ErrorBody) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(e)
}

// requireToken guards h with a static bearer token; an empty token leaves
// it open.
func requireToken(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			writeJSONError(w, &ErrorBody{status: http.StatusUnauthorized, Err: ErrorDetail{Code: parley.CodeUnauthorized, Message: "metrics need Authorization: Bearer <PARLEY_METRICS_TOKEN>"}})
			return
		}
		h.ServeHTTP(w, r)
	})
}

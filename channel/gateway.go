// Receiving is where contacts' messages come in: the providers' webhooks
// (each provider mounts its own, see Provider), and the receive stage that identifies each
// sender and hands the message to the conversation flow: step 1 (take the webhook in) and
// step 2 (identify the sender) of the conversation flow, whose later steps
// are in package conversation.
//
// A webhook is answered once its payload is durably stored: concurrent
// requests are stored together (group commit, groupcommit.go), each new
// inbound message into the channel inbox (deduplicated by provider message
// id) and each delivery status onto the message it names. The receive
// stage (received.go) then claims batches of unprocessed inbox messages,
// normalizes each sender's number, looks up the tenant's customer or staff
// member, and calls the Receiver, one transaction per batch.
//
// Statuses are applied in the webhook's transaction rather than in a job:
// they are one conditional UPDATE (and an event) each, and they are most of
// the webhook traffic, so a job per status would double the queue's load for
// nothing.

package channel

import (
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/stage"
	"github.com/parleyhq/parley/store"
)

// Config is what the gateway needs.
type Config struct {
	Store    *store.Store
	Jobs     *jobs.Inserter
	Receiver Receiver
	Log      *slog.Logger
	// Registry, when set, gets the gateway's metrics.
	Registry prometheus.Registerer

	// Providers mount their webhooks through the gateway (Mount).
	Providers map[parley.ChannelType]Provider

	// GroupWindow is how long a webhook request waits for others to be
	// stored in the same transaction (default 1 ms; negative: no wait, a
	// group forms only while the previous commit runs). GroupMax bounds a
	// group (default 64 requests).
	GroupWindow time.Duration
	GroupMax    int
	// ReceiveBatch bounds the inbox messages one receive turn takes
	// (default 64); ReceiveLease is how long a claimed batch is the turn's
	// before any process may take it again (default 10 s).
	ReceiveBatch int
	ReceiveLease time.Duration
}

// Gateway serves the webhooks and works the received job.
type Gateway struct {
	store    *store.Store
	jobs     *jobs.Inserter
	receiver Receiver
	log      *slog.Logger

	providers map[parley.ChannelType]Provider

	// events counts what webhooks brought, by provider and outcome
	// (stored, duplicate, status_applied, unknown_number, bad_signature…).
	events *prometheus.CounterVec
	// commits counts the webhook transactions committed (group commit:
	// fewer than the requests when they come together).
	commits prometheus.Counter

	group       committer
	groupWindow time.Duration
	groupMax    int
	// groupWorkers is how many groups may be committing at once: one on
	// SQLite (one writer), a few on PostgreSQL.
	groupWorkers int

	receiving    *stage.Loop
	receiveBatch int
	receiveLease time.Duration
}

// New builds the gateway.
func New(cfg Config) *Gateway {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{
		store: cfg.Store, jobs: cfg.Jobs, receiver: cfg.Receiver, log: cfg.Log,
		providers: cfg.Providers,
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_webhook_events_total",
			Help: "Webhook requests and the items they carried, by provider and outcome (stored, duplicate, status_applied, unknown_number, bad_signature, …).",
		}, []string{"provider", "outcome"}),
	}
	g.commits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "parley_webhook_commits_total",
		Help: "Transactions that stored webhook requests; concurrent requests share one (group commit).",
	})
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(g.events, g.commits)
	}
	g.groupWindow, g.groupMax = cfg.GroupWindow, cfg.GroupMax
	if g.groupWindow == 0 {
		g.groupWindow = time.Millisecond
	}
	if g.groupMax <= 0 {
		g.groupMax = 64
	}
	g.group.full = make(chan struct{}, 1)
	g.groupWorkers = 1
	if cfg.Store != nil && cfg.Store.Engine() == store.Postgres {
		g.groupWorkers = 4
	}
	g.receiveBatch, g.receiveLease = cfg.ReceiveBatch, cfg.ReceiveLease
	if g.receiveBatch <= 0 {
		g.receiveBatch = 64
	}
	if g.receiveLease <= 0 {
		g.receiveLease = 10 * time.Second
	}
	g.receiving = stage.New("receive", g.receiveBatch, 0, g.receiveTurn, g.log)
	return g
}

// Mux is where the webhooks are mounted (web.Server and http.ServeMux are).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Mount adds every provider's webhook routes, each handing what it
// parsed to the gateway (Intake).
func (g *Gateway) Mount(m Mux) {
	for _, t := range slices.Sorted(maps.Keys(g.providers)) {
		g.providers[t].Mount(m, g)
	}
}

// Count adds n to a provider's outcome (the parley_webhook_events_total
// metric).
func (g *Gateway) Count(provider, outcome string, n int) {
	if n > 0 {
		g.events.WithLabelValues(provider, outcome).Add(float64(n))
	}
}

// MaxBodyBytes is the webhook body limit, the same for every provider.
const MaxBodyBytes = 1 << 20

// WriteError answers a webhook with the API's error body.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}

// Receiving is where contacts' messages come in: the WhatsApp Cloud
// API and Twilio webhooks, and the job that identifies each sender and hands
// the message to the conversation flow: step 1 (take the webhook in) and
// step 2 (identify the sender) of the conversation flow, whose later steps
// are in package conversation.
//
// A webhook is answered once its payload is durably stored: in one
// transaction the handler stores each new inbound message in the channel
// inbox (deduplicated by provider message id), enqueues one
// WhatsApp Business Text Message Received job per channel and request, and
// applies delivery statuses to the messages they name. The job then
// normalizes the sender's number, looks up the tenant's customer or staff
// member, and calls the Receiver in its own transaction.
//
// Statuses are applied in the webhook's transaction rather than in a job:
// they are one conditional UPDATE (and an event) each, and they are most of
// the webhook traffic, so a job per status would double the queue's load for
// nothing.

package channel

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/jobs"
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

	WhatsAppAppSecret   string // signs Cloud API webhooks (X-Hub-Signature-256)
	WhatsAppVerifyToken string // the handshake's hub.verify_token
	// PublicURL is this server's public base URL (e.g. https://parley.example.com):
	// Twilio signs the full URL it called. Empty: rebuilt from the request.
	PublicURL string

	// Inline, when above 0, is how many webhooks' messages may be taken
	// into conversations at once right after the webhook is answered, by
	// the gateway itself rather than through the queue (see inline.go).
	// 0 leaves every message to the received job.
	Inline int
	// ReceivedTimeout bounds one received job (and one inline run): the
	// flow may answer and send within it. Default 30 s.
	ReceivedTimeout time.Duration
}

// Gateway serves the webhooks and works the received job.
type Gateway struct {
	store    *store.Store
	jobs     *jobs.Inserter
	receiver Receiver
	log      *slog.Logger

	appSecret   string
	verifyToken string
	publicURL   string

	// events counts what webhooks brought, by provider and outcome
	// (stored, duplicate, status_applied, unknown_number, bad_signature…).
	events *prometheus.CounterVec

	receivedTimeout time.Duration
	inline          *inliner // nil: off
}

// New builds the gateway.
func New(cfg Config) *Gateway {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{
		store: cfg.Store, jobs: cfg.Jobs, receiver: cfg.Receiver, log: cfg.Log,
		appSecret: cfg.WhatsAppAppSecret, verifyToken: cfg.WhatsAppVerifyToken, publicURL: cfg.PublicURL,
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_webhook_events_total",
			Help: "Webhook requests and the items they carried, by provider and outcome (stored, duplicate, status_applied, unknown_number, bad_signature, …).",
		}, []string{"provider", "outcome"}),
	}
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(g.events)
	}
	g.receivedTimeout = cfg.ReceivedTimeout
	if g.receivedTimeout <= 0 {
		g.receivedTimeout = 30 * time.Second
	}
	if cfg.Inline > 0 {
		g.inline = newInliner(cfg.Inline)
	}
	if cfg.WhatsAppAppSecret == "" {
		g.log.Warn("PARLEY_WHATSAPP_APP_SECRET is not set: every WhatsApp webhook will be refused (401)")
	}
	return g
}

// Mux is where the webhooks are mounted (web.Server and http.ServeMux are).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Mount adds the webhook routes.
func (g *Gateway) Mount(m Mux) {
	m.Handle("GET /webhooks/whatsapp", http.HandlerFunc(g.serveWhatsAppVerify))
	m.Handle("POST /webhooks/whatsapp", http.HandlerFunc(g.serveWhatsApp))
	m.Handle("POST /webhooks/twilio/{channel_id}", http.HandlerFunc(g.serveTwilio))
}

// Provider names, the metrics' provider label.
const (
	providerWhatsApp = "whatsapp"
	providerTwilio   = "twilio"
)

// count adds n to a provider's outcome.
func (g *Gateway) count(provider, outcome string, n int) {
	if n > 0 {
		g.events.WithLabelValues(provider, outcome).Add(float64(n))
	}
}

// writeError answers with the API's error body.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}

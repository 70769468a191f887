// Package eventbus publishes the conversation event log to an outside bus
// (NATS JetStream; see the README's Integrations) from a transactional
// outbox: an event and its outbox row commit together (store.Options.EventOutbox),
// and the Publisher here sends outbox rows in order, at least once, deleting
// each once the bus has acknowledged it. A bus outage delays publishing; the
// backlog stays in the database across restarts.
package eventbus

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// Message is one event as a bus carries it.
type Message struct {
	Subject        string // parley.<tenant>.<event>
	ID             string // the event id: the bus (and consumers) drop a copy sent twice
	ConversationID string // events of one conversation keep their order
	Data           []byte // the CloudEvent, JSON
}

// Bus is where events go. Publish returns once the bus has stored the message.
type Bus interface {
	Publish(ctx context.Context, m Message) error
}

// CloudEvent is an event as published: CloudEvents 1.0, JSON format.
type CloudEvent struct {
	SpecVersion     string         `json:"specversion"`
	ID              string         `json:"id"`
	Source          string         `json:"source"`
	Type            string         `json:"type"`
	Subject         string         `json:"subject"`
	Time            time.Time      `json:"time"`
	DataContentType string         `json:"datacontenttype"`
	Data            map[string]any `json:"data"`
	// Extension attributes.
	TenantID       string `json:"tenantid"`
	ConversationID string `json:"conversationid"`
	EventName      string `json:"eventname"`          // the catalog's name, e.g. "Ticket Opened"
	Sequence       int64  `json:"sequence,omitempty"` // place in the outbox: increases in publishing order (bus only)
}

// Token turns a catalog name into a subject token: "Ticket Opened" →
// "ticket_opened".
func Token(name string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(name) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
			under = false
		} else if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

// Subject is where an event is published: parley.<tenant>.<event>.
func Subject(e parley.Event) string { return "parley." + e.TenantID + "." + Token(e.Name) }

// Envelope wraps an event as a CloudEvent; seq is its place in the outbox
// (0 outside it).
func Envelope(e parley.Event, seq int64) CloudEvent {
	return CloudEvent{
		SpecVersion: "1.0", ID: e.ID,
		Source:  "/parley/tenants/" + e.TenantID + "/conversations/" + e.ConversationID,
		Type:    "parley." + Token(e.Name),
		Subject: e.ConversationID, Time: e.CreatedAt.UTC(), DataContentType: "application/json", Data: e.Payload,
		TenantID: e.TenantID, ConversationID: e.ConversationID, EventName: e.Name, Sequence: seq,
	}
}

// Publisher moves the outbox to the bus.
//
// One process publishes at a time (a lease in the database), so events go
// out in the order they were appended.
type Publisher struct {
	Store *store.Store
	Bus   Bus
	Log   *slog.Logger
	// Poll is how often it looks for new events (default 200 ms).
	Poll time.Duration

	holder  string
	backlog atomic.Int64
	metrics *metrics
}

const leaseName = "event_publisher"

// leaseTTL: a publisher that died is replaced this long after its last renewal.
const leaseTTL = 15 * time.Second

// batchSize is how many events one round reads and publishes.
const batchSize = 200

type metrics struct {
	published prometheus.Counter
	failures  prometheus.Counter
}

// Register exports the publisher's counters and its backlog on reg.
func (p *Publisher) Register(reg prometheus.Registerer) {
	p.metrics = &metrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_events_published_total", Help: "Events published to the event bus."}),
		failures:  prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_event_publish_failures_total", Help: "Rounds of publishing the bus refused or did not answer."}),
	}
	reg.MustRegister(p.metrics.published, p.metrics.failures,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "parley_event_outbox_backlog", Help: "Events waiting to be published, as last counted."},
			func() float64 { return float64(p.backlog.Load()) }))
}

// Backlog is the number of events waiting, as last counted.
func (p *Publisher) Backlog() int64 { return p.backlog.Load() }

// Run publishes until ctx ends, then gives the lease up.
func (p *Publisher) Run(ctx context.Context) {
	if p.holder == "" {
		p.holder = uuid.NewString()
	}
	poll := p.Poll
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	defer func() { _ = p.Store.ReleaseLease(context.WithoutCancel(ctx), leaseName, p.holder) }()
	failures := 0
	for ctx.Err() == nil {
		more, err := p.Round(ctx)
		wait := poll
		switch {
		case err != nil && ctx.Err() == nil:
			failures++
			wait = min(time.Duration(failures)*time.Second, 30*time.Second)
			if p.metrics != nil {
				p.metrics.failures.Inc()
			}
			log.WarnContext(ctx, "publishing events failed; they wait in the outbox", "err", err, "backlog", p.backlog.Load(), "retry_in", wait)
		case more:
			failures, wait = 0, 0
		default:
			failures = 0
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
	}
}

// Round publishes one batch if this process holds the lease. It reports
// whether a full batch went out (more may be waiting).
func (p *Publisher) Round(ctx context.Context) (bool, error) {
	if p.holder == "" {
		p.holder = uuid.NewString()
	}
	ok, err := p.Store.AcquireLease(ctx, leaseName, p.holder, leaseTTL)
	if err != nil || !ok {
		return false, err
	}
	n, err := p.Store.EventBacklog(ctx)
	if err != nil {
		return false, err
	}
	p.backlog.Store(n)
	if n == 0 {
		return false, nil
	}
	events, err := p.Store.PendingEvents(ctx, batchSize)
	if err != nil {
		return false, err
	}
	var done []int64
	var pubErr error
	for i, o := range events {
		// Renew the lease as we go: a slow bus must not let another
		// process take it and publish the same events beside us.
		if i > 0 && i%25 == 0 {
			if ok, err := p.Store.AcquireLease(ctx, leaseName, p.holder, leaseTTL); err != nil || !ok {
				pubErr = fmt.Errorf("lost the publisher's lease after %d events: %v", i, err)
				break
			}
		}
		data, err := json.Marshal(Envelope(o.Event, o.Seq))
		if err != nil {
			return false, fmt.Errorf("encode event %s: %w", o.ID, err)
		}
		// Stop at the first refusal: what follows waits, so order holds.
		if pubErr = p.Bus.Publish(ctx, Message{Subject: Subject(o.Event), ID: o.ID, ConversationID: o.ConversationID, Data: data}); pubErr != nil {
			break
		}
		done = append(done, o.Seq)
	}
	if err := p.Store.DeletePublishedEvents(context.WithoutCancel(ctx), done); err != nil {
		return false, err // published again next round: consumers drop the copy by id
	}
	p.backlog.Add(-int64(len(done)))
	if p.metrics != nil {
		p.metrics.published.Add(float64(len(done)))
	}
	if pubErr != nil {
		return false, fmt.Errorf("publish: %w", pubErr)
	}
	return len(events) == batchSize, nil
}

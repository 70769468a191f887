package app

import (
	"context"
	"fmt"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/event"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/eventbus"
	natsbus "github.com/parleyhq/parley/eventbus/nats"
	snsbus "github.com/parleyhq/parley/eventbus/sns"
	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/hooks"
	natsintake "github.com/parleyhq/parley/intake/nats"
	sqsintake "github.com/parleyhq/parley/intake/sqs"
	"github.com/parleyhq/parley/netguard"
	"github.com/parleyhq/parley/notify"
)

// queueConsumer reads Follow-Up Requests from an outside queue.
type queueConsumer interface {
	Run(ctx context.Context) error
	Source() string
}

// intake runs the follow-up queue consumer, when one is configured, beside
// the job workers.
type intake struct {
	c      queueConsumer
	close  func()
	fu     *followup.Service
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newIntake connects to the queue PARLEY_FOLLOWUP_QUEUE_URL names; nil
// when none is set.
func newIntake(ctx context.Context, cfg config.Config, fu *followup.Service) (*intake, error) {
	if cfg.FollowUpQueueURL == "" {
		return nil, nil
	}
	in := &intake{fu: fu, close: func() {}}
	if strings.HasPrefix(cfg.FollowUpQueueURL, "nats://") {
		c, err := natsintake.New(ctx, natsintake.Config{URL: cfg.FollowUpQueueURL, DeadLetter: cfg.FollowUpDeadLetter}, fu, fu.Log)
		if err != nil {
			return nil, fmt.Errorf("follow-up queue: %w", err)
		}
		in.c, in.close = c, c.Close
		return in, nil
	}
	c, err := sqsintake.New(ctx, sqsintake.Config{QueueURL: cfg.FollowUpQueueURL, Endpoint: cfg.SQSEndpoint}, fu, fu.Log)
	if err != nil {
		return nil, fmt.Errorf("follow-up queue: %w", err)
	}
	in.c = c
	return in, nil
}

// start runs the consumer, and prunes old receipts once an hour.
func (in *intake) start(ctx context.Context) {
	ctx, in.cancel = context.WithCancel(ctx)
	in.wg.Add(2)
	go func() {
		defer in.wg.Done()
		_ = in.c.Run(ctx)
	}()
	go func() {
		defer in.wg.Done()
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			if n, err := in.fu.PruneQueueReceipts(ctx); err != nil && ctx.Err() == nil {
				in.fu.Log.WarnContext(ctx, "prune queue receipts", "err", err)
			} else if n > 0 {
				in.fu.Log.InfoContext(ctx, "pruned queue receipts", "count", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// stop ends the consumer and waits for its batch in hand: a batch that was
// not acknowledged comes back from the queue.
func (in *intake) stop() {
	if in.cancel != nil {
		in.cancel()
	}
	in.wg.Wait()
	in.close()
}

// events runs the event publisher, when PARLEY_EVENTS_URL is set.
type events struct {
	pub    *eventbus.Publisher
	bus    interface{ Close() }
	cancel context.CancelFunc
	done   chan struct{}
}

// newEvents connects to the event bus. A broker that is down now is not an
// error: events wait in the outbox until it answers.
func newEvents(ctx context.Context, cfg config.Config, a *App) (*events, error) {
	if cfg.EventsURL == "" {
		return nil, nil
	}
	if snsbus.IsTopicARN(cfg.EventsURL) {
		bus, err := snsbus.New(ctx, cfg.EventsURL, cfg.SNSEndpoint)
		if err != nil {
			return nil, fmt.Errorf("events: %w", err)
		}
		return &events{pub: &eventbus.Publisher{Store: a.Store, Bus: bus, Log: a.log}, bus: bus}, nil
	}
	bus, err := natsbus.New(ctx, cfg.EventsURL)
	if bus == nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	if err != nil {
		a.log.Warn("event bus not ready; events wait in the outbox", "err", err)
	}
	return &events{pub: &eventbus.Publisher{Store: a.Store, Bus: bus, Log: a.log}, bus: bus}, nil
}

func (e *events) start(ctx context.Context) {
	ctx, e.cancel = context.WithCancel(ctx)
	e.done = make(chan struct{})
	go func() {
		defer close(e.done)
		e.pub.Run(ctx)
	}()
}

func (e *events) stop() {
	if e.cancel != nil {
		e.cancel()
		<-e.done
	}
	e.bus.Close()
}

// newWebhooks builds the tenants' webhook subscriptions and their
// dispatcher, whose connections go only where a tenant may send them (the
// outbound address rules, PARLEY_OUTBOUND_ALLOW).
func newWebhooks(a *App, cfg config.Config) (*hooks.Service, *hooks.Dispatcher) {
	known := map[string]bool{}
	for _, cat := range [][]event.Entry{event.Catalog(), followup.Catalog(), notify.Catalog(), campaign.Catalog()} {
		for _, e := range cat {
			known[e.Name] = true
		}
	}
	svc := &hooks.Service{Store: a.Store, Clock: a.clock, Log: a.log, Known: func(n string) bool { return known[n] }}
	guard := netguard.New(cfg.OutboundAllow, netguard.WebPorts)
	transport := &http.Transport{
		Proxy:       nil, // a proxy would dial for us, past the guard
		DialContext: guard.Dialer(10 * time.Second).DialContext, ForceAttemptHTTP2: true,
		TLSHandshakeTimeout: 10 * time.Second, MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second,
	}
	d := &hooks.Dispatcher{Store: a.Store, Clock: a.clock, Log: a.log,
		HTTP: &http.Client{Timeout: 15 * time.Second, Transport: transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	return svc, d
}

// background runs a loop beside the job workers until stop.
type background struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startBackground(ctx context.Context, run func(context.Context)) *background {
	ctx, cancel := context.WithCancel(ctx)
	b := &background{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		run(ctx)
	}()
	return b
}

func (b *background) stop() {
	if b != nil {
		b.cancel()
		<-b.done
	}
}

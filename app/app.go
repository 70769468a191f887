// Package app wires Parley together: it opens the store, migrates it,
// builds the job workers and the HTTP server, and starts and stops them in
// order. `parley serve` runs one; end-to-end tests start one on 127.0.0.1:0.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/instagram"
	"github.com/parleyhq/parley/channel/whatsapp"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/conversation"
	"github.com/parleyhq/parley/dashboard"
	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/hooks"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/leads"
	"github.com/parleyhq/parley/notify"
	"github.com/parleyhq/parley/ratelimit"
	"github.com/parleyhq/parley/stage"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/usage"
	"github.com/parleyhq/parley/web"
)

// Options are the parts a caller may supply instead of the defaults.
type Options struct {
	Logger     *slog.Logger
	Clock      clock.Clock  // defaults to the wall clock
	HTTPClient *http.Client // for calls to providers; defaults to a client with a timeout
	Version    string
	// PromoteDueJobs, when set, makes jobs due by the clock available this
	// often instead of at River's scheduler's 5 s: for tests that move a
	// fake clock and wait for what falls due.
	PromoteDueJobs time.Duration
}

// App is one running Parley process.
type App struct {
	cfg   config.Config
	log   *slog.Logger
	clock clock.Clock

	Store *store.Store
	Jobs  *jobs.Client
	Web   *web.Server
	// Outbox is the one way messages leave; FollowUps hooks into it.
	Outbox    *channel.Outbox
	FollowUps *followup.Service
	// Broadcasts sends templates to segments of customers (campaign).
	Broadcasts *campaign.Broadcasts
	// Usage charges LLM tokens and template sends to tenants.
	Usage *usage.Meter

	srv *http.Server
	ln  net.Listener
	// stages are the message path's batch loops (receive, answer), run
	// while the app serves; stagesRun while they run.
	stages    []*stage.Loop
	stagesRun []*background
	// conversations' answer batches finish after its loop stops.
	conversations *conversation.Service
	intake        *intake // nil without PARLEY_FOLLOWUP_QUEUE_URL
	events        *events // nil without PARLEY_EVENTS_URL
	// hooks posts tenants' webhook deliveries; hooksRun while it runs.
	hooks    *hooks.Dispatcher
	hooksRun *background
}

// New builds the whole system from cfg, each part complete when made and
// in the order they depend on each other. Nothing runs until Start.
func New(ctx context.Context, cfg config.Config, opts Options) (*App, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	a := &App{cfg: cfg, log: opts.Logger, clock: opts.Clock}
	log, clk, hc := opts.Logger, opts.Clock, opts.HTTPClient

	// The database, migrated.
	st, err := openStore(ctx, cfg, clk, log)
	if err != nil {
		return nil, err
	}
	a.Store = st
	fail := func(err error) (*App, error) {
		st.Close()
		return nil, err
	}

	// Metrics, metering and the one LLM client (nil: offline answers).
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerSQLCounts(reg, st)
	a.Usage = usage.New(st, log, reg)
	model, err := newLLM(cfg, clk, log, a.Usage)
	if err != nil {
		return fail(err)
	}
	// Parts insert jobs through ins; the job client, made last because it
	// needs every part's workers, fills it.
	ins := &jobs.Inserter{}

	// The way out: providers, the send stage, and the outbox that queues
	// for it. Follow-ups hang on the outbox (every agent message schedules
	// them) and send through it: the one back edge of the graph.
	graph, err := newGraph(cfg, hc)
	if err != nil {
		return fail(err)
	}
	providers := newProviders(cfg, st, graph, hc, clk, log)
	send := &channel.SendStage{Sender: &channel.Sender{Store: st, Log: log, Usage: a.Usage, Providers: providers}}
	a.Outbox = &channel.Outbox{Wake: send.Wake}
	a.FollowUps = &followup.Service{Store: st, Jobs: ins, Outbox: a.Outbox, Clock: clk, Log: log, Metrics: followup.NewMetrics(reg)}
	if model != nil { // an interface: a nil *llm.Client would not be nil in it
		a.FollowUps.LLM = model
	}
	a.Outbox.OnAgentMessage = a.FollowUps.OnAgentMessage

	// The way in: conversations (the AI agent and tickets) behind the
	// webhooks' gateway; a passed ownership check routes a number's held
	// messages through the gateway.
	// Broadcasts send through the same outbox; a customer's opt-out word
	// is taken by them before the AI agent sees it.
	a.Broadcasts = &campaign.Broadcasts{Store: st, Jobs: ins, Outbox: a.Outbox, Clock: clk, Log: log, NextOpening: followup.NextOpening}
	tools := &conversation.Tools{}
	conv := newConversation(cfg, st, ins, a.Outbox, model, tools, a.FollowUps.OnCustomerMessage, a.Broadcasts.Intercept, log)
	a.conversations = conv
	gw := channel.New(channel.Config{Store: st, Jobs: ins, Receiver: conv, Log: log, Registry: reg, Providers: providers})
	checker := &channel.Checker{Store: st, Jobs: ins, Lookup: graph, Retryable: whatsapp.Retryable, Verified: gw.Release, Log: log,
		Others: map[parley.ChannelType]channel.Check{
			parley.ChannelInstagram: {Lookup: providers[parley.ChannelInstagram].(*instagram.Provider), Retryable: instagram.Retryable},
		}}
	a.stages = []*stage.Loop{gw.Receiving(), conv.Answers(), send.Loop()}
	if opts.PromoteDueJobs > 0 {
		a.stages = append(a.stages, stage.New("promote due jobs", jobs.PromoteBatch, opts.PromoteDueJobs,
			func(ctx context.Context) (int, error) { return jobs.PromoteDue(ctx, st, clk.Now()) }, log))
	}

	// Lead sequences send through an outbox of their own: a lead's
	// message is not a conversation's agent message, so no follow-up
	// clock starts for it.
	leadsSvc := newLeads(cfg, st, ins, &channel.Outbox{Wake: send.Wake}, model, clk, log)
	notes := &notify.Service{Store: st, Jobs: ins, Outbox: a.Outbox, Conversations: conv, LLM: model, Log: log}
	if err := notes.RegisterTools(tools); err != nil {
		return fail(err)
	}

	// Outside queues and buses, and tenants' webhook subscriptions.
	if a.intake, err = newIntake(ctx, cfg, a.FollowUps); err != nil {
		return fail(err)
	}
	if a.events, err = newEvents(ctx, cfg, a); err != nil {
		return fail(err)
	}
	var backlog func() int64
	if a.events != nil {
		a.events.pub.Register(reg)
		backlog = a.events.pub.Backlog
	}
	webhooks, dispatcher := newWebhooks(a, cfg)
	a.hooks = dispatcher

	// Every part's workers, then the job client that runs them.
	workers := river.NewWorkers()
	river.AddWorker(workers, checker)
	river.AddWorker(workers, conv.AIAgentWorker())
	river.AddWorker(workers, conv.AssignWorker())
	river.AddWorker(workers, &leads.StepWorker{S: leadsSvc})
	river.AddWorker(workers, gw.ReceivedWorker())
	river.AddWorker(workers, gw.PruneWorker())
	river.AddWorker(workers, send.OldJobs())
	river.AddWorker(workers, &followup.RequestWorker{S: a.FollowUps})
	river.AddWorker(workers, &followup.ScanWorker{S: a.FollowUps, Grace: followup.DefaultScanGrace})
	river.AddWorker(workers, &followup.BackfillWorker{S: a.FollowUps})
	river.AddWorker(workers, notes.RequestWorker())
	river.AddWorker(workers, notes.DeliverWorker())
	river.AddWorker(workers, &campaign.PaceWorker{S: a.Broadcasts})
	periodic := append(conv.PeriodicJobs(), gw.PeriodicJobs()...)
	periodic = append(periodic, followup.PeriodicScan(), campaign.PeriodicPacer())
	jc, err := jobs.NewClient(st, workers, jobs.Config{
		Timeout: cfg.JobTimeout, RescueAfter: cfg.JobRescueAfter, Poll: cfg.JobPoll, Workers: cfg.Workers,
		Logger: log, Time: riverTime(clk), Periodic: periodic,
	})
	if err != nil {
		return fail(err)
	}
	a.Jobs = jc
	ins.Set(jc)

	// The API, the webhooks and the dashboard on one server.
	a.Web = web.New(web.Deps{
		Store: st, Logger: log, Registry: reg, Version: opts.Version,
		ChannelSaved: checker.Saved, Jobs: ins,
		APILimit:      ratelimit.New(cfg.APIRateLimit, int(2*cfg.APIRateLimit)+1, clk),
		WebhookLimit:  ratelimit.New(cfg.WebhookRateLimit, int(cfg.WebhookRateLimit)+1, clk),
		Conversations: conv, Leads: leadsSvc, FollowUps: a.FollowUps,
		Notifications: notes, TrustedProxies: cfg.TrustedProxies, MetricsToken: cfg.MetricsToken,
		EventBacklog: backlog, Webhooks: webhooks, Templates: graph, Broadcasts: a.Broadcasts,
	})
	gw.Mount(a.Web)
	mountLeads(a.Web, leadsSvc)
	dash, err := dashboard.New(dashboard.Deps{Store: st, Logger: log, Clock: clk, PublicURL: cfg.PublicURL,
		Conversations: conv, Leads: leadsSvc, Knowledge: conv.Knowledge, Notifications: notes, Webhooks: webhooks, TrustedProxies: cfg.TrustedProxies,
		FollowUps: a.FollowUps, Broadcasts: a.Broadcasts, Templates: graph})
	if err != nil {
		return fail(fmt.Errorf("dashboard: %w", err))
	}
	a.Web.Handle("/", dash)
	a.srv = &http.Server{
		Handler:           a.Web.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return a, nil
}

// Start listens on the configured address and starts the job workers.
func (a *App) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.Addr, err)
	}
	a.ln = ln
	// Jobs run with their own context: a request's end must not stop them.
	if err := a.Jobs.Start(context.WithoutCancel(ctx)); err != nil {
		ln.Close()
		return fmt.Errorf("start jobs: %w", err)
	}
	if a.intake != nil {
		a.intake.start(context.WithoutCancel(ctx))
	}
	if a.events != nil {
		a.events.start(context.WithoutCancel(ctx))
	}
	a.hooksRun = startBackground(context.WithoutCancel(ctx), a.hooks.Run)
	for _, l := range a.stages {
		a.stagesRun = append(a.stagesRun, startBackground(context.WithoutCancel(ctx), l.Run))
	}
	go func() {
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http server stopped", "err", err)
		}
	}()
	a.log.Info("parley serving", "addr", ln.Addr().String(), "database", a.Store.Engine(), "llm", llmMode(a.cfg))
	return nil
}

// Addr is the address the server listens on (useful with port 0).
func (a *App) Addr() string {
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// URL is the server's base URL on loopback.
func (a *App) URL() string { return "http://" + a.Addr() }

// Close stops taking requests, lets in-flight jobs finish (or releases them
// for another process when ctx ends first), and closes the database.
func (a *App) Close(ctx context.Context) error {
	var errs []error
	if a.ln != nil {
		errs = append(errs, a.srv.Shutdown(ctx))
		// Answers being written finish until ctx ends; a batch cut short
		// keeps its lease, and any process takes it again when the lease
		// runs out (seconds).
		for _, b := range a.stagesRun {
			b.stop()
		}
		a.conversations.WaitAnswers(ctx)
		if err := a.Jobs.Stop(ctx); err != nil {
			// Out of patience: cancel what is left; River hands those jobs
			// back as retryable so another process (or the next start) runs them.
			a.log.Warn("jobs did not finish in time; cancelling", "err", err)
			hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			errs = append(errs, a.Jobs.StopAndCancel(hard))
			cancel()
		}
	}
	if a.intake != nil {
		a.intake.stop()
	}
	if a.events != nil {
		a.events.stop() // after the jobs: their last events still go out
	}
	a.hooksRun.stop()
	errs = append(errs, a.Store.Close())
	return errors.Join(errs...)
}

func llmMode(c config.Config) string {
	if c.LLMConfigured() {
		return "openai-compatible " + c.LLMModel
	}
	return "offline (knowledge-base answers, no LLM)"
}

// riverTime lets River schedule by the app's clock when it is not the wall clock.
func riverTime(c clock.Clock) rivertype.TimeGenerator {
	if _, real := c.(clock.Real); real {
		return nil
	}
	return clockTime{c}
}

type clockTime struct{ c clock.Clock }

func (t clockTime) NowUTC() time.Time       { return t.c.Now().UTC() }
func (t clockTime) NowUTCOrNil() *time.Time { now := t.c.Now().UTC(); return &now }

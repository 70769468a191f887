package followup_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/bench"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/whatsapp"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// BenchmarkDueFollowUps stores 1,000,000 conversations, of which 100,000
// fall due within the same minute and 400,000 more later, then lets the
// scan find the due ones and the workers send them all to a fake Graph
// API, wired as `parley serve` wires them. It reports how long sending
// them all took, how late the last one was, and the floor measured in the
// same run (single-row commits, no-op jobs) with the ratios.
// PARLEY_BENCH_CONVERSATIONS and PARLEY_BENCH_DUE shrink it for a quick
// run; PARLEY_BENCH_FLOOR=0 skips the floor.
//
//	go test ./followup/ -run '^$' -bench DueFollowUps -benchtime 1x -timeout 60m
func BenchmarkDueFollowUps(b *testing.B) {
	total, due := envInt("PARLEY_BENCH_CONVERSATIONS", 1_000_000), envInt("PARLEY_BENCH_DUE", 100_000)
	benchEngines(b, func(b *testing.B, engine store.Engine) {
		for i := 0; i < b.N; i++ {
			benchDue(b, engine, total, due)
		}
	})
}

// BenchmarkFollowUpLateness is the ordinary day: follow-ups fall due one
// by one (PARLEY_BENCH_RATE a second for PARLEY_BENCH_SECONDS, 50 and 30
// by default) among 100,000 stored conversations, each on the Follow-Up
// Request that the agent's last message scheduled. It reports how late
// they reached the fake Graph API (p50, p99, max).
//
//	go test ./followup/ -run '^$' -bench FollowUpLateness -benchtime 1x
func BenchmarkFollowUpLateness(b *testing.B) {
	rate, secs := envInt("PARLEY_BENCH_RATE", 50), envInt("PARLEY_BENCH_SECONDS", 30)
	benchEngines(b, func(b *testing.B, engine store.Engine) {
		for i := 0; i < b.N; i++ {
			benchLateness(b, engine, 100_000, rate, secs)
		}
	})
}

func benchEngines(b *testing.B, fn func(b *testing.B, engine store.Engine)) {
	for _, engine := range storetest.Engines() {
		b.Run(string(engine), func(b *testing.B) {
			if engine == store.Postgres {
				storetest.RequirePostgres(b)
			}
			fn(b, engine)
		})
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// numbers is how many business numbers the conversations are spread over:
// Meta lets one number send at most 1,000 messages a second, so 100,000
// follow-ups in a minute need several.
const numbers = 10

// rig is a follow-up service wired as the app wires it, sending to a fake
// Graph API that notes when each follow-up arrived.
type rig struct {
	st       *store.Store
	svc      *followup.Service
	jc       *jobs.Client
	send     *channel.SendStage
	graph    *whatsapptest.FakeGraph
	tenant   string
	channels []string

	mu      sync.Mutex
	arrived map[string]time.Time // recipient → when its follow-up reached the fake
}

func newRig(b *testing.B, engine store.Engine) *rig {
	ctx := context.Background()
	r := &rig{st: storetest.Open(b, engine, clock.Real{}), graph: whatsapptest.NewFakeGraph(), arrived: map[string]time.Time{}}
	b.Cleanup(r.graph.Close)
	r.graph.Observe(func(m whatsapptest.SentMessage) {
		r.mu.Lock()
		r.arrived[m.To] = time.Now()
		r.mu.Unlock()
	})
	tn, err := r.st.CreateTenant(ctx, parley.Tenant{Name: "Bench", Features: map[string]bool{parley.FeatureFollowUps: true}, Modules: []string{parley.ModuleAppointments}})
	if err != nil {
		b.Fatal(err)
	}
	r.tenant = tn.ID
	for i := range numbers {
		pnid := fmt.Sprintf("10600000000%04d", i)
		r.graph.AddNumber(whatsapptest.Number{ID: pnid, Token: "bench-token", Display: "+1 555-000-" + fmt.Sprintf("%04d", i)})
		ch, err := r.st.CreateChannel(ctx, parley.Channel{TenantID: tn.ID, Type: parley.ChannelWhatsApp, Name: "Line " + strconv.Itoa(i),
			PhoneNumberID: pnid, AccessToken: "bench-token", Active: true})
		if err != nil {
			b.Fatal(err)
		}
		r.channels = append(r.channels, ch.ID)
	}
	if _, err := r.st.CreateFollowUpRule(ctx, parley.FollowUpRule{TenantID: tn.ID, Title: "Nudge", Message: "Still there?", Delay: 30 * time.Minute,
		ReplyWindow: 24 * time.Hour, ChannelIDs: r.channels, Active: true}); err != nil {
		b.Fatal(err)
	}

	graph, err := whatsapp.NewClient(whatsapp.Config{BaseURL: r.graph.URL, RateLimit: 1000})
	if err != nil {
		b.Fatal(err)
	}
	ins := &jobs.Inserter{}
	log := slog.New(slog.DiscardHandler)
	sender := &channel.Sender{Store: r.st, Log: log,
		Providers: map[parley.ChannelType]channel.Provider{parley.ChannelWhatsApp: &whatsapp.Provider{Client: graph}}}
	r.send = &channel.SendStage{Sender: sender}
	r.svc = &followup.Service{Store: r.st, Jobs: ins, Clock: clock.Real{}, Log: log}
	r.svc.Outbox = &channel.Outbox{OnAgentMessage: r.svc.OnAgentMessage, Wake: r.send.Wake}
	workers := river.NewWorkers()
	river.AddWorker(workers, &followup.RequestWorker{S: r.svc})
	river.AddWorker(workers, r.send.OldJobs())
	// The app's defaults: 50 workers, a 50 ms poll.
	if r.jc, err = jobs.NewClient(r.st, workers, jobs.Config{}); err != nil {
		b.Fatal(err)
	}
	ins.Set(r.jc)
	return r
}

func (r *rig) start(b *testing.B) {
	if err := r.jc.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	sendCtx, stopSend := context.WithCancel(context.Background())
	sendDone := make(chan struct{})
	go func() { defer close(sendDone); r.send.Run(sendCtx) }()
	b.Cleanup(func() {
		stopSend()
		<-sendDone
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = r.jc.Stop(ctx)
	})
}

// waitArrived waits until n follow-ups reached the fake (or limit passes).
func (r *rig) waitArrived(b *testing.B, n int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		r.mu.Lock()
		got := len(r.arrived)
		r.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d follow-ups arrived within %s", got, n, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lateness is, for every arrived follow-up, when it arrived minus when it
// was due, sorted.
func (r *rig) lateness(dueOf func(i int) time.Time) []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]time.Duration, 0, len(r.arrived))
	for to, at := range r.arrived {
		i, _ := strconv.Atoi(strings.TrimPrefix(strings.TrimPrefix(to, "+"), "1555"))
		out = append(out, at.Sub(dueOf(i)))
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

func pct(s []time.Duration, p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, max(0, int(p*float64(len(s))+0.5)-1))]
}

func floor(b *testing.B, engine store.Engine) *bench.Floor {
	if os.Getenv("PARLEY_BENCH_FLOOR") == "0" {
		return nil
	}
	dsn := "parley.db"
	if engine == store.Postgres {
		dsn = storetest.PostgresURL()
	}
	f, err := bench.MeasureFloor(context.Background(), dsn, 2*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	return &f
}

func benchDue(b *testing.B, engine store.Engine, total, due int) {
	b.StopTimer()
	ctx := context.Background()
	fl := floor(b, engine)
	r := newRig(b, engine)
	now := time.Now().UTC()
	generate(b, r.st, engine, r.tenant, r.channels, now, total, due, 0)
	b.Logf("%s: stored %d conversations (%d due within a minute) in %s", engine, total, due, time.Since(now).Round(time.Millisecond))

	// Finding the due ones reads the index only.
	findStart := time.Now()
	var found int
	if err := r.st.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM followup_due WHERE due_at <= $1`, now.UnixMicro()).Scan(&found); err != nil {
		b.Fatal(err)
	}
	find := time.Since(findStart)
	if found != due {
		b.Fatalf("found %d due, want %d", found, due)
	}

	// The scheduler's clock runs behind by the time storing took, so the
	// follow-ups are due in the minute before it starts, as when it has
	// been running all along, and lateness is not the set-up's time.
	shift := time.Since(now)
	r.svc.Clock = behind{shift}
	b.StartTimer()
	sendStart := time.Now()
	r.start(b)
	n, err := r.svc.Scan(ctx, 0)
	if err != nil || n != due {
		b.Fatalf("scan enqueued %d, %v; want %d", n, err, due)
	}
	scan := time.Since(sendStart)
	r.waitArrived(b, due, 30*time.Minute)
	elapsed := time.Since(sendStart)
	b.StopTimer()

	late := r.lateness(func(i int) time.Time { return time.UnixMicro(dueMicros(now.UnixMicro(), i, 0)).Add(shift) })
	last := late[len(late)-1]
	b.ReportMetric(float64(find.Milliseconds()), "find_due_ms")
	b.ReportMetric(float64(scan.Milliseconds()), "scan_enqueue_ms")
	b.ReportMetric(elapsed.Seconds(), "send_all_s")
	b.ReportMetric(float64(due)/elapsed.Seconds(), "followups/s")
	b.ReportMetric(last.Seconds(), "last_late_s")
	line := fmt.Sprintf("%s: %d conversations, %d due in one minute: found in %s, enqueued in %s, all sent in %s (%.0f/s), last one %s late",
		engine, total, due, find.Round(time.Millisecond), scan.Round(time.Millisecond), elapsed.Round(time.Millisecond),
		float64(due)/elapsed.Seconds(), last.Round(time.Millisecond))
	if fl != nil {
		b.ReportMetric(fl.CommitsPerSecond, "floor_commits/s")
		b.ReportMetric(fl.NoopJobsPerSecond, "floor_noop_jobs/s")
		b.ReportMetric(float64(due)/elapsed.Seconds()/fl.NoopJobsPerSecond, "followups_per_noop_job")
		line += fmt.Sprintf("; floor %.0f commits/s, %.0f no-op jobs/s; ratio follow-ups/no-op job %.2f",
			fl.CommitsPerSecond, fl.NoopJobsPerSecond, float64(due)/elapsed.Seconds()/fl.NoopJobsPerSecond)
	}
	fmt.Fprintln(os.Stderr, line)
}

func benchLateness(b *testing.B, engine store.Engine, total, rate, secs int) {
	b.StopTimer()
	ctx := context.Background()
	fl := floor(b, engine)
	r := newRig(b, engine)
	due := rate * secs
	// The first one falls due 10 s from now (time to store them and for
	// the client to take up its duties), the rest one every 1/rate s after.
	first := time.Now().UTC().Add(10 * time.Second)
	step := time.Second / time.Duration(rate)
	generate(b, r.st, engine, r.tenant, r.channels, first, total, due, step)
	dueOf := func(i int) time.Time { return time.UnixMicro(dueMicros(first.UnixMicro(), i, step)) }
	// Each due conversation has the request its last agent message scheduled.
	params := make([]river.InsertManyParams, 0, due)
	for i := 1; i <= due; i++ {
		params = append(params, river.InsertManyParams{Args: followup.RequestArgs{ID: convID(i)}, InsertOpts: &river.InsertOpts{ScheduledAt: dueOf(i)}})
	}
	for len(params) > 0 {
		n := min(1000, len(params))
		if _, err := r.jc.InsertMany(ctx, params[:n]); err != nil {
			b.Fatal(err)
		}
		params = params[n:]
	}
	if time.Until(first) < 3*time.Second {
		b.Fatalf("storing the conversations took too long: the first follow-up is due in %s", time.Until(first))
	}
	b.StartTimer()
	r.start(b)
	r.waitArrived(b, due, time.Duration(secs)*time.Second+5*time.Minute)
	b.StopTimer()

	late := r.lateness(dueOf)
	b.ReportMetric(pct(late, .50).Seconds()*1000, "late_p50_ms")
	b.ReportMetric(pct(late, .99).Seconds()*1000, "late_p99_ms")
	b.ReportMetric(late[len(late)-1].Seconds()*1000, "late_max_ms")
	line := fmt.Sprintf("%s: %d follow-ups due at %d/s among %d conversations: late p50 %s, p99 %s, max %s", engine, due, rate, total,
		pct(late, .50).Round(time.Millisecond), pct(late, .99).Round(time.Millisecond), late[len(late)-1].Round(time.Millisecond))
	if fl != nil {
		b.ReportMetric(fl.CommitsPerSecond, "floor_commits/s")
		b.ReportMetric(fl.NoopJobsPerSecond, "floor_noop_jobs/s")
		line += fmt.Sprintf("; floor %.0f commits/s, %.0f no-op jobs/s", fl.CommitsPerSecond, fl.NoopJobsPerSecond)
	}
	fmt.Fprintln(os.Stderr, line)
}

// behind is the wall clock set back by d.
type behind struct{ d time.Duration }

func (c behind) Now() time.Time { return time.Now().UTC().Add(-c.d) }

// convID is the id generate gives conversation i.
func convID(i int) string { return fmt.Sprintf("00000000-0000-7000-8000-%012d", i) }

// dueMicros is when generate makes conversation i's follow-up due: with
// step 0, spread over the minute before at; else at + (i-1)·step.
func dueMicros(at int64, i int, step time.Duration) int64 {
	if step == 0 {
		return at - int64(i%60000)*1000
	}
	return at + int64(i-1)*step.Microseconds()
}

// generate bulk-inserts conversations with SQL, spread over the channels.
// The first `due` fall due as dueMicros says, the next 400,000 (or what
// is left) days later, and the rest have no follow-up pending (the
// customer wrote last).
func generate(b *testing.B, st *store.Store, engine store.Engine, tenantID string, channels []string, at time.Time, total, due int, step time.Duration) {
	ctx := context.Background()
	later := min(400_000, total-due)
	series, id, phone := `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) `,
		`printf('00000000-0000-7000-8000-%012d', i)`, `printf('+1555%07d', i)`
	if engine == store.Postgres {
		series, id, phone = `WITH n(i) AS (SELECT generate_series(1, $1::bigint)) `,
			`'00000000-0000-7000-8000-' || lpad(i::text, 12, '0')`, `'+1555' || lpad(i::text, 7, '0')`
	}
	channel := "CASE i % " + strconv.Itoa(len(channels))
	for k, c := range channels {
		channel += fmt.Sprintf(" WHEN %d THEN '%s'", k, c)
	}
	channel += " END"
	dueAt := fmt.Sprintf(`(%d - (i %% 60000) * 1000)`, at.UnixMicro())
	if step > 0 {
		dueAt = fmt.Sprintf(`(%d + (i - 1) * %d)`, at.UnixMicro(), step.Microseconds())
	}
	// The agent wrote 30 minutes (the rule's delay) before the due time,
	// the customer a minute before that: inside the 24-hour window.
	stmts := []string{
		`INSERT INTO conversations (id, tenant_id, kind, status, contact_phone, channel_id, language, session_started_at,
			last_customer_message_at, last_agent_message_at, created_at, updated_at) ` + series +
			`SELECT ` + id + `, '` + tenantID + `', 'customer', 'open', ` + phone + `, ` + channel + `, 'en', ` + dueAt + ` - 3600000000,
			CASE WHEN i > ` + strconv.Itoa(due+later) + ` THEN ` + dueAt + ` ELSE ` + dueAt + ` - 1860000000 END,
			` + dueAt + ` - 1800000000, ` + dueAt + ` - 3600000000, ` + dueAt + ` FROM n`,
		`INSERT INTO followup_due (conversation_id, tenant_id, due_at) ` + series +
			`SELECT ` + id + `, '` + tenantID + `', CASE WHEN i <= ` + strconv.Itoa(due) + ` THEN ` + dueAt + ` ELSE ` + dueAt + ` + 86400000000 END FROM n WHERE i <= ` + strconv.Itoa(due+later),
	}
	for _, s := range stmts {
		if _, err := st.DB().ExecContext(ctx, s, total); err != nil {
			b.Fatalf("generate: %v\n%s", err, s)
		}
	}
	if engine == store.Postgres {
		_, _ = st.DB().ExecContext(ctx, `ANALYZE`)
	}
}

// Package simulate drives a Parley the way the outside world does: signed
// WhatsApp webhooks from simulated customers at a chosen rate, a fake Graph
// API that receives the replies and a fake OpenAI-compatible LLM. It
// measures webhook acknowledgement and reply latency, throughput and the
// server's peak memory. `parley simulate` runs it; it is also the quickest
// way to watch Parley work end to end without a WhatsApp account.
package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/bench"
	"github.com/parleyhq/parley/channel/instagram/instagramtest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/llm/llmtest"
)

// Config says what load to offer and to what.
type Config struct {
	Binary      string        // the parley executable to run; default this program
	DatabaseURL string        // the spawned Parley's database; default a fresh SQLite file
	Customers   int           // simulated customers, each waiting for its reply before writing again
	Rate        float64       // messages per second offered; 0 offers as fast as customers are free
	Duration    time.Duration // how long to offer load (when Messages is 0)
	Messages    int           // stop after offering this many messages
	LLMLatency  time.Duration // how long the fake LLM takes per answer
	Senders     int           // concurrent webhook connections
	Replicas    int           // `parley serve` processes on the one database (PostgreSQL for more than 1); default 1
	Drain       time.Duration // how long to wait for outstanding replies at the end
	Env         []string      // extra environment for the spawned Parley (e.g. PARLEY_JOB_POLL=20ms)
	Floor       time.Duration // time per floor measurement run before the load; 0 skips them
	Log         io.Writer     // progress lines; nil for none

	// FollowUpQueue, when set, is an SQS queue URL or a NATS JetStream
	// nats://host:port/<stream>/<subject>: Parley reads Follow-Up Requests
	// from it, and after the load every conversation gets one through it.
	FollowUpQueue string

	// LLMFaultRate and GraphFaultRate make that share of the fake LLM's
	// calls and of the fake Graph API's sends misbehave (llmtest and
	// whatsapptest's default mixes of faults); 0 for none.
	LLMFaultRate, GraphFaultRate float64

	// Channel is what the customers write on: ChannelWhatsApp (the
	// default) or ChannelInstagram (Instagram Direct: customers are
	// Instagram-scoped ids, replies arrive at a fake Instagram API).
	Channel string
}

// The channels `parley simulate --channel` takes.
const (
	ChannelWhatsApp  = "whatsapp"
	ChannelInstagram = "instagram"
)

const (
	appSecret     = "simulate-app-secret"
	phoneNumberID = "100000000000001"
	channelToken  = "simulate-channel-token"
	llmKey        = "simulate-llm-key"

	instagramAccountID = "17841400000000001"
)

func (c *Config) defaults() error {
	if c.Customers <= 0 {
		c.Customers = 100
	}
	if c.Duration <= 0 && c.Messages <= 0 {
		c.Duration = 20 * time.Second
	}
	if c.Senders <= 0 {
		c.Senders = 64
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.Replicas > 1 && !strings.HasPrefix(c.DatabaseURL, "postgres") {
		return errors.New("--replicas above 1 needs a PostgreSQL --database-url (SQLite has one writer, in one process)")
	}
	if c.Drain <= 0 {
		c.Drain = 10 * time.Second
	}
	if c.Rate < 0 {
		return errors.New("rate must be 0 (as fast as possible) or more")
	}
	switch c.Channel {
	case "":
		c.Channel = ChannelWhatsApp
	case ChannelWhatsApp, ChannelInstagram:
	default:
		return fmt.Errorf("channel %q: want whatsapp or instagram", c.Channel)
	}
	if c.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		c.Binary = exe
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return nil
}

// Run starts the fakes and a Parley process, offers the load, and reports.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	graph := whatsapptest.NewFakeGraph()
	defer graph.Close()
	graph.AddNumber(whatsapptest.Number{ID: phoneNumberID, Token: channelToken, Display: "+1 555-000-0001", VerifiedName: "Simulated Shop"})
	graph.SetFaultRate(cfg.GraphFaultRate)
	ig := instagramtest.New()
	defer ig.Close()
	ig.AddAccount(instagramtest.Account{ID: instagramAccountID, Token: channelToken, Username: "simulated.shop", Name: "Simulated Shop"})
	model := llmtest.Start(llmtest.Options{APIKey: llmKey, Latency: cfg.LLMLatency, Responder: answerer, FaultRate: cfg.LLMFaultRate})
	defer model.Close()

	dir, err := os.MkdirTemp("", "parley-simulate")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	dbURL := cfg.DatabaseURL
	if dbURL == "" {
		dbURL = filepath.Join(dir, "parley.db")
	}
	env := append(os.Environ(), "PARLEY_DATABASE_URL="+dbURL, "PARLEY_LOG_LEVEL=warn",
		"PARLEY_WHATSAPP_GRAPH_URL="+graph.URL, "PARLEY_WHATSAPP_APP_SECRET="+appSecret, "PARLEY_WHATSAPP_RATE_LIMIT=1000",
		"PARLEY_INSTAGRAM_GRAPH_URL="+ig.URL,
		"PARLEY_LLM_BASE_URL="+model.URL, "PARLEY_LLM_API_KEY="+llmKey, "PARLEY_LLM_MODEL=simulated",
		"PARLEY_API_RATE_LIMIT=0", "PARLEY_WEBHOOK_RATE_LIMIT=0")
	if cfg.FollowUpQueue != "" {
		env = append(env, "PARLEY_FOLLOWUP_QUEUE_URL="+cfg.FollowUpQueue)
	}
	env = append(env, cfg.Env...)

	// The replicas start one after another: the first migrates the
	// database, the others find it done.
	var procs []*server
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	var bases []string
	for i := 0; i < cfg.Replicas; i++ {
		p, err := startServer(ctx, cfg.Binary, dir, env)
		if err != nil {
			return nil, err
		}
		procs = append(procs, p)
		bases = append(bases, p.base)
		fmt.Fprintf(cfg.Log, "parley %s up on %s (database %s)\n", cfg.Binary, p.base, redact(dbURL))
	}
	base := bases[0]
	graph.SendStatuses(base+"/webhooks/whatsapp", appSecret) // as Meta does for every accepted send

	key, err := createTenant(ctx, cfg.Binary, dir, env)
	if err != nil {
		return nil, err
	}
	phones, err := setUp(ctx, base, key, cfg.Customers, cfg.Channel)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Log, "tenant, %s channel and %d customers ready; offering load\n", cfg.Channel, len(phones))

	var floor *bench.Floor
	if cfg.Floor > 0 {
		fmt.Fprintf(cfg.Log, "measuring the floor (database commits, no-op jobs, loopback HTTP)\n")
		f, err := bench.MeasureFloor(ctx, floorDSN(cfg.DatabaseURL), cfg.Floor)
		if err != nil {
			return nil, fmt.Errorf("floor: %w", err)
		}
		floor = &f
	}

	l := newLoad(cfg, bases, phones)
	graph.Observe(func(m whatsapptest.SentMessage) { l.replied(m.To) })
	ig.Observe(func(m instagramtest.SentMessage) { l.replied(m.To) })
	before := make([]processSample, len(procs))
	for i, p := range procs {
		before[i] = p.sample(ctx)
	}
	rep := l.run(ctx)
	rep.Replicas = len(procs)
	var cpu float64
	for i, p := range procs {
		after := p.sample(ctx)
		pf := ProcessFigures{
			CPUSeconds: after.cpu - before[i].cpu, PeakRSSMB: peakRSS(p.cmd.Process.Pid),
			Statements: after.statements - before[i].statements, Commits: after.commits - before[i].commits,
		}
		rep.Processes = append(rep.Processes, pf)
		cpu += pf.CPUSeconds
		rep.PeakRSSMB = max(rep.PeakRSSMB, pf.PeakRSSMB)
		rep.Statements += pf.Statements
		rep.Commits += pf.Commits
	}
	if cpu > 0 && rep.Answered > 0 {
		rep.CPUms = cpu * 1000 / float64(rep.Answered)
	}
	if rep.Answered > 0 {
		rep.StatementsPerAnswer = rep.Statements / float64(rep.Answered)
		rep.CommitsPerAnswer = rep.Commits / float64(rep.Answered)
	}
	if cfg.FollowUpQueue != "" {
		fmt.Fprintf(cfg.Log, "publishing a Follow-Up Request for every conversation through %s\n", cfg.FollowUpQueue)
		if rep.FollowUpQueue, err = publishFollowUps(ctx, base, key, cfg.FollowUpQueue); err != nil {
			return nil, err
		}
	}
	rep.Database = engineOf(dbURL)
	rep.Channel = cfg.Channel
	rep.LLMLatencyMS = float64(cfg.LLMLatency) / float64(time.Millisecond)
	if floor != nil {
		rep.Floor = floor
		rep.Ratios = &Ratios{
			AnsweredPerNoopJob:  rep.AnsweredPerSecond / floor.NoopJobsPerSecond,
			AnsweredPerCommit:   rep.AnsweredPerSecond / floor.CommitsPerSecond,
			AcknowledgedPerHTTP: rep.AckedPerSecond / floor.HTTPPerSecond,
		}
	}
	return rep, nil
}

// answerer is the fake model's part: it answers the customer's question
// from the knowledge the set-up stored and keeps the conversation with the
// AI agent. The fake's default instance of the schema says open_ticket:
// true, which hands every conversation to humans after its first message and
// measures nothing after that.
func answerer(req llmtest.Request) llmtest.Reply {
	if rf := req.ResponseFormat; rf != nil && rf.JSONSchema != nil && rf.JSONSchema.Name == "customer_answer" {
		return llmtest.JSON(map[string]any{
			"reason":      "the knowledge base answers both questions",
			"answer":      "We are open Monday to Saturday from 9:00 to 18:00; delivery takes three to five days.",
			"open_ticket": false,
		})
	}
	return llmtest.DefaultResponder(req)
}

// floorDSN is where the floor is measured: beside the database under test.
func floorDSN(dsn string) string {
	if strings.HasPrefix(dsn, "postgres") {
		return dsn
	}
	return "parley.db" // a scratch SQLite file in a temp dir
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitHealthy(ctx context.Context, base string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if res, err := http.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("parley did not become healthy")
}

func createTenant(ctx context.Context, binary, dir string, env []string) (string, error) {
	cmd := exec.CommandContext(ctx, binary, "tenant", "create", "--name", "Simulated Shop")
	cmd.Env, cmd.Dir = env, dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("tenant create: %w", err)
	}
	var t struct {
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal(out, &t); err != nil {
		return "", fmt.Errorf("tenant create printed %q", out)
	}
	return t.APIKey, nil
}

// setUp creates the channel (WhatsApp, or Instagram: then it waits for the
// account's ownership check, without which its messages are held), the
// customers and a few knowledge documents through the API, as an operator
// would. It returns the customers' addresses as the webhooks name them:
// phone digits, or Instagram-scoped ids.
func setUp(ctx context.Context, base, key string, customers int, channel string) ([]string, error) {
	call := func(path string, body any) error {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, "POST", base+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			msg, _ := io.ReadAll(res.Body)
			return fmt.Errorf("POST %s: %d %s", path, res.StatusCode, msg)
		}
		return nil
	}
	if channel == ChannelInstagram {
		if err := call("/api/channels", map[string]any{"type": "instagram", "name": "Simulated Instagram", "instagram_account_id": instagramAccountID, "access_token": channelToken}); err != nil {
			return nil, err
		}
		if err := waitChecked(ctx, base, key); err != nil {
			return nil, err
		}
	} else if err := call("/api/channels", map[string]any{"type": "whatsapp", "name": "Simulated number", "phone_number_id": phoneNumberID, "access_token": channelToken}); err != nil {
		return nil, err
	}
	for _, d := range [][2]string{
		{"Opening hours", "We are open Monday to Saturday from 9:00 to 18:00."},
		{"Delivery", "Orders ship within two working days; delivery takes three to five days."},
		{"Returns", "You can return any item within 30 days for a full refund."},
	} {
		if err := call("/api/documents", map[string]any{"title": d[0], "body": d[1], "category": "FAQ"}); err != nil {
			return nil, err
		}
	}
	phones := make([]string, customers)
	for i := range phones {
		phones[i] = fmt.Sprintf("1555%07d", i+1)
		body := map[string]any{"phone": "+" + phones[i], "name": fmt.Sprintf("Customer %d", i+1)}
		if channel == ChannelInstagram {
			phones[i] = fmt.Sprintf("90000000%08d", i+1) // an Instagram-scoped id
			body = map[string]any{"instagram_id": phones[i], "name": fmt.Sprintf("Customer %d", i+1)}
		}
		if err := call("/api/customers", body); err != nil {
			return nil, err
		}
	}
	return phones, nil
}

// waitChecked waits until the tenant's channels have passed their
// ownership check (the Instagram account read with the channel's token).
func waitChecked(ctx context.Context, base, key string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/channels", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var page struct {
			Items []struct{ Settings map[string]string }
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err == nil && len(page.Items) > 0 && page.Items[0].Settings["check"] == "ok" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("the channel's ownership check did not pass")
}

func engineOf(dsn string) string {
	if strings.HasPrefix(dsn, "postgres") {
		return "postgres"
	}
	return "sqlite"
}

func redact(dsn string) string {
	if i := strings.Index(dsn, "@"); i > 0 && strings.Contains(dsn, "://") {
		return dsn[:strings.Index(dsn, "://")+3] + "…" + dsn[i:]
	}
	return dsn
}

// cpuSeconds reads the CPU time (user and system) the process has used
// (Linux). Per message, it is a figure that other load on the machine
// hardly moves.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it are plain.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	var utime, stime float64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	return (utime + stime) / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux Go supports.
const clockTicks = 100

// peakRSS reads the process's high-water resident set (Linux), in MB.
func peakRSS(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")), "%f", &kb)
			return kb / 1024
		}
	}
	return 0
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

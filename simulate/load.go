package simulate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/bench"
	"github.com/parleyhq/parley/channel/instagram/instagramtest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
)

// load offers messages from customers, one outstanding message each, and
// matches replies arriving at the fake Graph API to the message they answer.
type load struct {
	cfg    Config
	bases  []string // the serve processes; customer i's webhooks go to bases[i%len]
	phones []string
	client *http.Client

	idle chan int // customers free to write

	mu      sync.Mutex
	waiting map[string]time.Time // phone digits → when its message was sent
	index   map[string]int
	acks    []time.Duration
	replies []time.Duration

	firstError string

	offered, acked, failed, answered atomic.Int64
}

func newLoad(cfg Config, bases []string, phones []string) *load {
	l := &load{cfg: cfg, bases: bases, phones: phones, idle: make(chan int, len(phones)),
		waiting: map[string]time.Time{}, index: map[string]int{},
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Senders, MaxConnsPerHost: cfg.Senders}}}
	for i, p := range phones {
		l.idle <- i
		l.index[p] = i
	}
	return l
}

// replied is called by the fake provider for every message Parley sends to
// a customer (phone digits, or an Instagram-scoped id).
func (l *load) replied(to string) {
	to = strings.TrimPrefix(to, "+")
	l.mu.Lock()
	sent, ok := l.waiting[to]
	if ok {
		delete(l.waiting, to)
		l.replies = append(l.replies, time.Since(sent))
	}
	i, known := l.index[to]
	l.mu.Unlock()
	if ok && known {
		l.answered.Add(1)
		l.idle <- i
	}
}

func (l *load) run(ctx context.Context) *Report {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if l.cfg.Duration > 0 && l.cfg.Messages == 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, l.cfg.Duration)
		defer stop()
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < l.cfg.Senders; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				l.send(i)
			}
		}()
	}
	start := time.Now()
	var tick <-chan time.Time
	if l.cfg.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / l.cfg.Rate))
		defer t.Stop()
		tick = t.C
	}
	progress := time.NewTicker(5 * time.Second)
	defer progress.Stop()
	blocked := 0
offer:
	for l.cfg.Messages == 0 || int(l.offered.Load()) < l.cfg.Messages {
		if tick != nil {
			select {
			case <-ctx.Done():
				break offer
			case <-tick:
			}
		}
		var i int
		select {
		case <-ctx.Done():
			break offer
		case <-progress.C:
			fmt.Fprintf(l.cfg.Log, "  %s: offered %d, acknowledged %d, answered %d\n", time.Since(start).Round(time.Second), l.offered.Load(), l.acked.Load(), l.answered.Load())
			continue
		case i = <-l.idle:
		default:
			if tick != nil {
				blocked++ // every customer still waits for a reply: the offered rate is not met
				continue
			}
			select {
			case <-ctx.Done():
				break offer
			case i = <-l.idle:
			}
		}
		l.offered.Add(1)
		work <- i
	}
	offerTime := time.Since(start)
	close(work)
	wg.Wait()

	deadline := time.Now().Add(l.cfg.Drain)
	for time.Now().Before(deadline) && l.answered.Load() < l.acked.Load() {
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)

	l.mu.Lock()
	defer l.mu.Unlock()
	r := &Report{
		Customers: len(l.phones), OfferedRate: l.cfg.Rate, Offered: l.offered.Load(), Acknowledged: l.acked.Load(),
		Failed: l.failed.Load(), Answered: l.answered.Load(), Unanswered: l.acked.Load() - l.answered.Load(), RateMisses: blocked,
		Seconds: elapsed.Seconds(), OfferSeconds: offerTime.Seconds(),
		Ack: percentiles(l.acks), Reply: percentiles(l.replies), FirstError: l.firstError,
	}
	if offerTime > 0 {
		r.AnsweredPerSecond = float64(r.Answered) / elapsed.Seconds()
		r.AckedPerSecond = float64(r.Acknowledged) / offerTime.Seconds()
	}
	return r
}

// send posts one signed text webhook for customer i, on the simulated
// channel (WhatsApp, or Instagram Direct with --channel instagram).
func (l *load) send(i int) {
	phone := l.phones[i]
	const text = "Hello! When are you open, and how long does delivery take?"
	body := whatsapptest.TextWebhook(whatsapptest.Inbound{PhoneNumberID: phoneNumberID, From: phone, Name: "Customer", Time: time.Now()}, text)
	path := "/webhooks/whatsapp"
	if l.cfg.Channel == ChannelInstagram {
		body = instagramtest.TextWebhook(instagramtest.Inbound{AccountID: instagramAccountID, From: phone, Time: time.Now()}, text)
		path = "/webhooks/instagram"
	}
	req, _ := http.NewRequest("POST", l.bases[i%len(l.bases)]+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", whatsapptest.Sign(appSecret, body))
	start := time.Now()
	l.mu.Lock()
	l.waiting[phone] = start
	l.mu.Unlock()
	res, err := l.client.Do(req)
	took := time.Since(start)
	if err == nil {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	if err != nil || res.StatusCode != http.StatusOK {
		l.failed.Add(1)
		l.mu.Lock()
		if l.firstError == "" {
			if err != nil {
				l.firstError = err.Error()
			} else {
				l.firstError = fmt.Sprintf("webhook answered %d", res.StatusCode)
			}
		}
		delete(l.waiting, phone)
		l.mu.Unlock()
		l.idle <- i
		return
	}
	l.acked.Add(1)
	l.mu.Lock()
	l.acks = append(l.acks, took)
	l.mu.Unlock()
}

// Latency is a distribution in milliseconds.
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func percentiles(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(p float64) float64 {
		i := int(p*float64(len(s))+0.5) - 1
		i = max(0, min(i, len(s)-1))
		return float64(s[i]) / float64(time.Millisecond)
	}
	return Latency{Count: len(s), P50: at(.50), P90: at(.90), P99: at(.99), Max: float64(s[len(s)-1]) / float64(time.Millisecond)}
}

// Report is what one run measured.
type Report struct {
	Database          string  `json:"database"`
	Channel           string  `json:"channel"` // whatsapp or instagram
	Customers         int     `json:"customers"`
	OfferedRate       float64 `json:"offered_rate"` // 0: as fast as customers were free
	LLMLatencyMS      float64 `json:"llm_latency_ms"`
	Offered           int64   `json:"offered"`
	Acknowledged      int64   `json:"acknowledged"`
	Failed            int64   `json:"failed"`
	Answered          int64   `json:"answered"`
	Unanswered        int64   `json:"unanswered"`
	RateMisses        int     `json:"rate_misses"` // ticks when every customer still waited for a reply
	Seconds           float64 `json:"seconds"`
	OfferSeconds      float64 `json:"offer_seconds"`
	AckedPerSecond    float64 `json:"acknowledged_per_second"`
	AnsweredPerSecond float64 `json:"answered_per_second"`
	Ack               Latency `json:"webhook_ack"`
	Reply             Latency `json:"reply"` // webhook sent → reply at the fake Graph API
	PeakRSSMB         float64 `json:"peak_rss_mb"`
	CPUms             float64 `json:"server_cpu_ms_per_answer"` // Parley's CPU time (user+system) per answered message, summed over processes
	// Statements and Commits: SQL statements and commits of every process
	// while load was offered and drained (their /metrics before and after).
	Statements          float64          `json:"sql_statements"`
	Commits             float64          `json:"sql_commits"`
	StatementsPerAnswer float64          `json:"sql_statements_per_answer"`
	CommitsPerAnswer    float64          `json:"sql_commits_per_answer"`
	Replicas            int              `json:"replicas"`
	Processes           []ProcessFigures `json:"processes"`
	FirstError          string           `json:"first_error,omitempty"`
	Floor               *bench.Floor     `json:"floor,omitempty"`
	Ratios              *Ratios          `json:"ratios,omitempty"`
	// FollowUpQueue: the Follow-Up Requests published through a queue (--followup-queue).
	FollowUpQueue *FollowUpQueueReport `json:"followup_queue,omitempty"`
}

// ProcessFigures are one serve process's part of the measured window.
type ProcessFigures struct {
	CPUSeconds float64 `json:"cpu_s"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	Statements float64 `json:"sql_statements"`
	Commits    float64 `json:"sql_commits"`
}

// Ratios put the figures against the floor measured in the same run.
type Ratios struct {
	AnsweredPerNoopJob  float64 `json:"answered_per_noop_job"` // answered/s ÷ no-op River jobs/s
	AnsweredPerCommit   float64 `json:"answered_per_commit"`   // answered/s ÷ single-row commits/s
	AcknowledgedPerHTTP float64 `json:"acknowledged_per_http"` // acknowledged/s ÷ loopback HTTP requests/s
}

// Print writes the report for people.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "database %s, %s channel, %d customers, offered %s, fake LLM latency %.0f ms\n", r.Database, r.Channel, r.Customers, rateText(r.OfferedRate), r.LLMLatencyMS)
	fmt.Fprintf(w, "messages: %d offered, %d acknowledged (%.0f/s), %d failed, %d answered, %d unanswered\n",
		r.Offered, r.Acknowledged, r.AckedPerSecond, r.Failed, r.Answered, r.Unanswered)
	fmt.Fprintf(w, "answered per second: %.1f over %.1f s\n", r.AnsweredPerSecond, r.Seconds)
	fmt.Fprintf(w, "webhook ack ms:  p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n", r.Ack.P50, r.Ack.P90, r.Ack.P99, r.Ack.Max)
	fmt.Fprintf(w, "reply ms:        p50 %.1f  p90 %.1f  p99 %.1f  max %.1f (Parley's own part: subtract the LLM latency)\n", r.Reply.P50, r.Reply.P90, r.Reply.P99, r.Reply.Max)
	fmt.Fprintf(w, "peak RSS: %.0f MB; Parley's CPU per answered message: %.2f ms (%s)\n", r.PeakRSSMB, r.CPUms, replicasText(r.Replicas))
	fmt.Fprintf(w, "SQL statements / commits per answered message: %.1f / %.2f (%.0f statements, %.0f commits)\n", r.StatementsPerAnswer, r.CommitsPerAnswer, r.Statements, r.Commits)
	if len(r.Processes) > 1 {
		for i, p := range r.Processes {
			fmt.Fprintf(w, "  process %d: CPU %.1f s, peak RSS %.0f MB, %.0f statements, %.0f commits\n", i+1, p.CPUSeconds, p.PeakRSSMB, p.Statements, p.Commits)
		}
	}
	if f := r.Floor; f != nil {
		fmt.Fprintf(w, "floor: %.0f commits/s, %.0f no-op jobs/s, %.0f loopback HTTP req/s\n", f.CommitsPerSecond, f.NoopJobsPerSecond, f.HTTPPerSecond)
		fmt.Fprintf(w, "ratios: answered/no-op job %.2f, answered/commit %.3f, acknowledged/HTTP %.3f\n", r.Ratios.AnsweredPerNoopJob, r.Ratios.AnsweredPerCommit, r.Ratios.AcknowledgedPerHTTP)
	}
	if q := r.FollowUpQueue; q != nil {
		fmt.Fprintf(w, "follow-up requests through %s: %d published, %d taken in, in %.1f s\n", q.Queue, q.Published, q.Accepted, q.Seconds)
	}
	if r.FirstError != "" {
		fmt.Fprintf(w, "first failure: %s\n", r.FirstError)
	}
	if r.RateMisses > 0 {
		fmt.Fprintf(w, "note: %d times every customer was still waiting for a reply, so the offered rate was not met; add customers\n", r.RateMisses)
	}
}

func replicasText(n int) string {
	if n <= 1 {
		return "one process"
	}
	return fmt.Sprintf("%d replicas, CPU summed", n)
}

func rateText(r float64) string {
	if r == 0 {
		return "as fast as possible"
	}
	return fmt.Sprintf("%.0f msg/s", r)
}

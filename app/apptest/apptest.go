// Package apptest starts a whole Parley in-process for end-to-end tests: a
// fresh database on the chosen engine, the job workers, and the HTTP server
// on 127.0.0.1:0, with helpers to call the API as a tenant would.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Parley is a running test instance.
type Parley struct {
	*app.App
	Config config.Config
	Logs   *LogBuffer
	t      testing.TB
	closed bool
}

// Start runs Parley on engine with the config adjusted by tune (may be nil).
// clk may be nil for the wall clock.
func Start(t testing.TB, engine store.Engine, clk clock.Clock, tune func(*config.Config)) *Parley {
	t.Helper()
	return StartOn(t, storetest.DSN(t, engine), clk, tune)
}

// StartOn runs Parley on an existing database (from storetest.DSN), so a
// test can run two processes on one database or restart on the same data.
func StartOn(t testing.TB, dsn string, clk clock.Clock, tune func(*config.Config)) *Parley {
	t.Helper()
	cfg, err := config.Load([]string{"--addr", "127.0.0.1:0", "--database-url", dsn, "--log-level", "debug"},
		func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.JobPoll = 10 * time.Millisecond
	// Tests poll the API as fast as they like; the limit has its own test.
	cfg.APIRateLimit = 0
	// Few connections: each new one to a new database starts with cold
	// catalog caches, and PostgreSQL spent more CPU on those than on the
	// tests' own queries.
	cfg.DatabaseMaxConns = 4
	if tune != nil {
		tune(&cfg)
	}
	logs := &LogBuffer{}
	ctx := context.Background()
	a, err := app.New(ctx, cfg, app.Options{Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Clock: clk, Version: "test",
		// What falls due when a test moves the clock runs within 20 ms.
		PromoteDueJobs: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("start parley: %v", err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatalf("start parley: %v", err)
	}
	p := &Parley{App: a, Config: cfg, Logs: logs, t: t}
	t.Cleanup(func() {
		if p.closed {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.Close(ctx)
	})
	return p
}

// Stop shuts the instance down as SIGTERM would, giving in-flight jobs until
// ctx ends to finish.
func (p *Parley) Stop(ctx context.Context) error {
	p.closed = true
	return p.App.Close(ctx)
}

// Tenant creates a tenant and returns it with an API key.
func (p *Parley) Tenant(name string) (parley.Tenant, string) {
	p.t.Helper()
	return storetest.Tenant(p.t, p.Store, name)
}

// Response is an HTTP answer with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on error.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Map decodes the body as a JSON object.
func (r Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// ErrorCode returns error.code of an error body ("" if none).
func (r Response) ErrorCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// Do sends a request with an optional API key and body (a string is sent
// as is, anything else as JSON).
func (p *Parley) Do(method, path, key string, body any) Response {
	p.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			p.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, p.URL()+path, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Eventually polls cond until it holds or the deadline passes. It is for
// waiting on background jobs, never for measuring time.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	EventuallyWithin(t, 15*time.Second, what, cond)
}

// EventuallyWithin is Eventually with its own deadline, for waits on
// whole processes (a restart, a broker coming back).
func EventuallyWithin(t testing.TB, patience time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// LogBuffer collects log output for assertions (e.g. that no secret leaks).
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Messages lists a conversation's messages, oldest first.
func (p *Parley) Messages(tenantID, convID string) []parley.Message {
	p.t.Helper()
	ms, _, err := p.Store.ListMessages(context.Background(), tenantID, convID, store.Page{Limit: 1000})
	if err != nil {
		p.t.Fatal(err)
	}
	return ms
}

// Events lists a conversation's event log, oldest first.
func (p *Parley) Events(tenantID, convID string) []parley.Event {
	p.t.Helper()
	evs, _, err := p.Store.ListEvents(context.Background(), tenantID, convID, store.Page{Limit: 1000})
	if err != nil {
		p.t.Fatal(err)
	}
	return evs
}

// Settle waits until no job is left to run now (scheduled ones may wait).
func (p *Parley) Settle() {
	p.t.Helper()
	Eventually(p.t, "jobs to finish", func() bool {
		res, err := p.Jobs.JobList(context.Background(), river.NewJobListParams().
			States(rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStatePending))
		return err == nil && len(res.Jobs) == 0
	})
}

// ShowLogsOnFailure makes a failing test print the app's warnings and
// errors.
func (p *Parley) ShowLogsOnFailure(t testing.TB) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, line := range strings.Split(p.Logs.String(), "\n") {
			if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
				t.Log(line)
			}
		}
	})
}

// Conversation creates c, whose contact last wrote wrote ago before now
// (nil: never wrote).
func (p *Parley) Conversation(c parley.Conversation, now time.Time, wrote *time.Duration) parley.Conversation {
	p.t.Helper()
	if wrote != nil {
		at := now.Add(-*wrote)
		c.LastCustomerMessageAt = &at
	}
	conv, err := p.Store.CreateConversation(context.Background(), c)
	if err != nil {
		p.t.Fatal(err)
	}
	return conv
}

// Ago is a duration to pass by pointer (Conversation's wrote).
func Ago(d time.Duration) *time.Duration { return &d }

// Golden compares got with the golden file at path, or rewrites the file
// when update is set (each package's -update flag). A difference fails t
// with the first line that differs and how to accept it.
func Golden(t testing.TB, path string, got []byte, update bool, accept string) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run %s -update to write it)", err, accept)
	}
	if bytes.Equal(got, want) {
		return
	}
	w, g := bytes.Split(want, []byte("\n")), bytes.Split(got, []byte("\n"))
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b []byte
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s changed at line %d (if that is meant, run %s -update):\n want: %s\n  got: %s", path, i+1, accept, a, b)
			return
		}
	}
}

package conversation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/conversation"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/knowledge"
	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/llm/llmtest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
	"github.com/parleyhq/parley/web"
)

// env is the conversation flow running for real on one engine: the store,
// River with the flow's workers, the JSON API on loopback, and (unless
// offline) the fake OpenAI-compatible server. Until the WhatsApp gateway
// and sender are merged, inbound messages are taken in as the gateway
// will (Service.Receive in a transaction) and a minimal send worker marks
// queued messages sent.
type env struct {
	t       *testing.T
	st      *store.Store
	svc     *conversation.Service
	jc      *jobs.Client
	api     *httptest.Server
	llm     *llmtest.Server // nil in offline mode
	waits   *waitLog        // the LLM client's waits between attempts
	tenant  parley.Tenant
	key     string
	channel parley.Channel
	sent    atomic.Int64 // messages the send worker delivered
}

type options struct {
	offline   bool
	tools     *conversation.Tools
	holdJobs  bool // do not start the workers until env.startJobs
	responder llmtest.Responder
	// llmTimeout bounds one LLM attempt; default 5s (tests of timeouts set it short).
	llmTimeout time.Duration
}

type waitLog struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (w *waitLog) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.waits = append(w.waits, d)
	w.mu.Unlock()
	return ctx.Err() // never really waits: the test clock is the log
}

func (w *waitLog) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.waits...)
}

func start(t *testing.T, st *store.Store, o options) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, st: st, waits: &waitLog{}}
	ins := &jobs.Inserter{}
	log := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e.svc = &conversation.Service{Jobs: ins, Outbox: &channel.Outbox{Wake: e.sendQueued}, Log: log, Store: st,
		Knowledge: knowledge.New(), Tools: o.tools, AnswerBudget: 10 * time.Second}
	if !o.offline {
		e.llm = llmtest.Start(llmtest.Options{APIKey: "sk-test", Responder: o.responder})
		t.Cleanup(e.llm.Close)
		if o.llmTimeout == 0 {
			o.llmTimeout = 5 * time.Second
		}
		c, err := llm.New(llm.Config{BaseURL: e.llm.URL, APIKey: "sk-test", Model: "test-model",
			Timeout: o.llmTimeout, MaxAttempts: 3, MaxWait: time.Minute, Sleep: e.waits.sleep})
		if err != nil {
			t.Fatal(err)
		}
		e.svc.LLM = c
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, e.svc.AIAgentWorker())
	river.AddWorker(workers, e.svc.AssignWorker())
	jc, err := jobs.NewClient(st, workers, jobs.Config{Poll: 10 * time.Millisecond, Workers: 4, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ins.Set(jc)
	e.jc = jc
	if !o.holdJobs {
		e.startJobs()
	}
	e.api = httptest.NewServer(web.New(web.Deps{Store: st, Logger: log, Conversations: e.svc}).Handler())
	t.Cleanup(e.api.Close)

	e.tenant, e.key = e.newTenant("Acme")
	if e.channel, err = st.CreateChannel(ctx, parley.Channel{TenantID: e.tenant.ID, Type: parley.ChannelWhatsApp, Name: "main",
		PhoneNumberID: "pn-" + e.tenant.ID, Active: true}); err != nil {
		t.Fatal(err)
	}
	return e
}

// startJobs starts the job workers and the answer stage.
func (e *env) startJobs() {
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.jc.Start(ctx); err != nil {
		e.t.Fatal(err)
	}
	answers := make(chan struct{})
	go func() { defer close(answers); e.svc.Answers().Run(ctx) }()
	e.t.Cleanup(func() {
		stop, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		_ = e.jc.Stop(stop)
		cancel()
		<-answers
		e.svc.WaitAnswers(stop)
	})
}

func (e *env) newTenant(name string) (parley.Tenant, string) {
	e.t.Helper()
	return storetest.Tenant(e.t, e.st, name)
}

// sendQueued stands in for the send stage, which the outbox wakes after
// each commit that queued messages: it marks every queued message sent.
func (e *env) sendQueued() {
	res, err := e.st.DB().ExecContext(context.Background(), `UPDATE messages SET status = 'sent', channel_message_id = 'wamid.sent-' || id
		WHERE status = 'queued' AND channel_message_id IS NULL`)
	if err != nil {
		e.t.Errorf("stand-in sender: %v", err)
		return
	}
	n, _ := res.RowsAffected()
	e.sent.Add(n)
}

var wamids atomic.Int64

// receive takes a contact's text in, as the gateway does: in a transaction.
func (e *env) receive(phone, text string, who any) parley.Conversation {
	e.t.Helper()
	in := channel.Inbound{TenantID: e.tenant.ID, Channel: e.channel, Phone: phone, ContactName: "Contact",
		Message: parley.Message{Type: parley.MessageText, Content: text, ChannelMessageID: fmt.Sprintf("wamid.in-%d", wamids.Add(1))}}
	switch w := who.(type) {
	case parley.Customer:
		in.Customer = &w
	case parley.StaffMember:
		in.Staff = &w
	}
	var conv parley.Conversation
	err := e.st.InTx(context.Background(), func(q *store.Queries) error {
		var err error
		conv, err = e.svc.Receive(context.Background(), q, in)
		return err
	})
	if err != nil {
		e.t.Fatalf("receive %q: %v", text, err)
	}
	return conv
}

// settle waits until the answer stage has nothing left and every flow job
// has finished.
func (e *env) settle() {
	e.t.Helper()
	eventually(e.t, "flow jobs to finish", func() bool {
		if n, err := e.st.PendingAnswers(context.Background()); err != nil || n > 0 {
			return false
		}
		e.sendQueued() // what the answers queued, whenever the wake came
		res, err := e.jc.JobList(context.Background(), river.NewJobListParams().
			Kinds(event.GenerateAIAgentAnswerArgs{}.Kind(), event.AssignWaitingTicketsArgs{}.Kind()).
			States(rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled, rivertype.JobStatePending))
		return err == nil && len(res.Jobs) == 0
	})
}

// outbound returns the conversation's messages from the business side.
func (e *env) outbound(convID string) []parley.Message {
	e.t.Helper()
	var d struct {
		Messages []parley.Message `json:"messages"`
	}
	e.get("/api/conversations/"+convID, &d)
	var out []parley.Message
	for _, m := range d.Messages {
		if m.Role != parley.RoleCustomer {
			out = append(out, m)
		}
	}
	return out
}

// events returns the names in the conversation's event log, in order.
func (e *env) events(convID string) []parley.Event {
	e.t.Helper()
	var page struct {
		Items []parley.Event `json:"items"`
	}
	e.get("/api/conversations/"+convID+"/events?limit=200", &page)
	return page.Items
}

func names(evs []parley.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Name)
	}
	return out
}

func (e *env) get(path string, into any) {
	e.t.Helper()
	status, body := e.do(http.MethodGet, path, e.key, nil)
	if status != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, status, body)
	}
	if err := json.Unmarshal(body, into); err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
}

func (e *env) do(method, path, key string, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.api.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (e *env) customer(phone, name string) parley.Customer {
	e.t.Helper()
	c, err := e.st.CreateCustomer(context.Background(), parley.Customer{TenantID: e.tenant.ID, Phone: phone, Name: name, Language: "en"})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) document(title, body string) parley.Document {
	e.t.Helper()
	d, err := e.st.CreateDocument(context.Background(), parley.Document{TenantID: e.tenant.ID, Title: title, Body: body, Category: "FAQ"})
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *env) agent(name string, available bool) parley.HumanAgent {
	e.t.Helper()
	status, body := e.do(http.MethodPost, "/api/agents", e.key, map[string]any{"name": name, "available": available})
	if status != http.StatusCreated {
		e.t.Fatalf("create agent: %d %s", status, body)
	}
	var a parley.HumanAgent
	_ = json.Unmarshal(body, &a)
	return a
}

func (e *env) tickets(query string) []parley.Ticket {
	e.t.Helper()
	var page struct {
		Items []parley.Ticket `json:"items"`
	}
	e.get("/api/tickets"+query, &page)
	return page.Items
}

// answer is a structured AI answer as the fake model returns it.
func answer(text string, openTicket bool, reason string) llmtest.Reply {
	return llmtest.JSON(map[string]any{"reason": reason, "answer": text, "open_ticket": openTicket})
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	apptest.Eventually(t, what, cond)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// wantOrder checks that want appears in got in this order (other names may
// come between).
func wantOrder(t *testing.T, got []string, want ...string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Fatalf("event log is missing %q in order;\n got: %s", want[i], strings.Join(got, " → "))
	}
}

// testLog shows warnings and errors in the test's output.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

//go:build reliability

// Package reliability is the long part of Parley's test suite: real `parley
// serve` processes under a load of signed webhooks, killed and restarted,
// run side by side, and fed faults. Run it with
//
//	go test -tags reliability -count=1 -timeout 40m -v ./reliability/
//
// Each test prints the counts it checks on a line starting "reliability:".
package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/llm/llmtest"
	"github.com/parleyhq/parley/store/storetest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "parley-rel")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "parley")
	if b := os.Getenv("RELIABILITY_BINARY"); b != "" {
		binary = b // measure another build (e.g. before a change) with the same tests
	} else if out, err := exec.Command("go", "build", "-o", binary, "../cmd/parley").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := storetest.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	appSecret = "reliability-app-secret"
	numberID  = "106000000000777"
	token     = "reliability-token"
	llmKey    = "reliability-llm-key"

	// followUpText is the follow-up rule's message, told apart from
	// answers at the fake Graph API.
	followUpText = "Still there? We are here if you need anything else."
	holdingMark  = "A member of our team will get back to you"
	// agentSchema names the AI agent's structured answer.
	agentSchema = "customer_answer"
	// notifiedPrefix starts the AI's reply that passes a staff answer on.
	notifiedPrefix = "From our team: "
)

// question is what customer digits wrote as their message n; the fake LLM
// answers it by number, so each reply names the message it answers.
func question(n int) string { return fmt.Sprintf("Question %d: when do you open?", n) }

var questionNumber = regexp.MustCompile(`Question (\d+):`)
var answerNumber = regexp.MustCompile(`^Answer to question (\d+):`)

// answer is the fake LLM's responder: it answers the latest customer
// message, naming its question number (a repair turn after invalid output
// comes after it), or passes on a staff answer the conversation was given.
func answer(req llmtest.Request) llmtest.Reply {
	if !req.HasSchema(agentSchema) {
		return llmtest.DefaultResponder(req) // e.g. localizing a staff answer
	}
	text := "Thanks for writing: we open at 9."
	for i := len(req.Messages) - 1; i >= 0; i-- {
		m := req.Messages[i]
		if m.Role == "system" && strings.Contains(m.Content, "Staff answer:") {
			text = notifiedPrefix + m.Content
			break
		}
		if q := questionNumber.FindStringSubmatch(m.Content); m.Role == "user" && q != nil {
			text = fmt.Sprintf("Answer to question %s: we open at 9.", q[1])
			break
		}
	}
	return llmtest.JSON(map[string]any{"reason": "simple question", "answer": text, "open_ticket": false})
}

// reply is one message to one customer, as correlated at the fake Graph API.
type reply struct {
	digits string
	n      int // the question answered, for answers
}

// world is the outside world of one test: the fakes, the environment every
// Parley process of the test shares, and what the fake Graph API received.
type world struct {
	t     *testing.T
	graph *whatsapptest.FakeGraph
	model *llmtest.Server
	env   []string
	dir   string
	key   string            // the tenant's API key
	ids   map[string]string // customer digits → customer id

	mu        sync.Mutex
	answers   map[reply]int  // (customer, question) → answers sent
	holding   map[string]int // customer → holding replies sent
	followUps map[string]int // customer → follow-ups sent
	notified  map[string]int // customer → staff answers passed on
	templates map[string]int // staff → request templates sent
	others    []string       // anything else sent
	changed   chan struct{}
	statuses  bool // the fake Graph API posts status webhooks
}

// worldOptions vary the world between tests.
type worldOptions struct {
	env []string
	// noStatuses keeps the fake Graph API from sending status webhooks
	// (a real Meta always does); for measuring what they change.
	noStatuses bool
}

func newWorld(t *testing.T, dsn string, o worldOptions) *world {
	w := &world{t: t, graph: whatsapptest.NewFakeGraph(), dir: t.TempDir(), ids: map[string]string{},
		answers: map[reply]int{}, holding: map[string]int{}, followUps: map[string]int{}, notified: map[string]int{}, templates: map[string]int{}, changed: make(chan struct{})}
	t.Cleanup(w.graph.Close)
	w.graph.AddNumber(whatsapptest.Number{ID: numberID, Token: token, Display: "+1 555-000-0777", VerifiedName: "Reliable Shop"})
	w.graph.Observe(w.observe)
	w.model = llmtest.Start(llmtest.Options{APIKey: llmKey, Responder: answer})
	t.Cleanup(w.model.Close)
	w.env = append(os.Environ(), "PARLEY_DATABASE_URL="+dsn, "PARLEY_LOG_LEVEL=warn",
		"PARLEY_WHATSAPP_GRAPH_URL="+w.graph.URL, "PARLEY_WHATSAPP_APP_SECRET="+appSecret, "PARLEY_WHATSAPP_RATE_LIMIT=1000",
		"PARLEY_LLM_BASE_URL="+w.model.URL, "PARLEY_LLM_API_KEY="+llmKey, "PARLEY_LLM_MODEL=fake", "PARLEY_LLM_TIMEOUT=3s",
		"PARLEY_API_RATE_LIMIT=0", "PARLEY_WEBHOOK_RATE_LIMIT=0",
		"PARLEY_JOB_TIMEOUT=4s", "PARLEY_JOB_RESCUE_AFTER=5s",
		// A shared PostgreSQL server: three replicas and the tests of colleagues fit.
		"PARLEY_DATABASE_MAX_CONNS=10")
	w.env = append(w.env, o.env...)
	if os.Getenv("RELIABILITY_NO_STATUSES") != "" {
		o.noStatuses = true
	}
	if o.noStatuses {
		t.Log("the fake Graph API sends no status webhooks")
	}
	w.statuses = !o.noStatuses
	return w
}

// observe sorts a send at the fake Graph API.
func (w *world) observe(m whatsapptest.SentMessage) {
	digits := strings.TrimPrefix(m.To, "+")
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case answerNumber.MatchString(m.Text):
		n, _ := strconv.Atoi(answerNumber.FindStringSubmatch(m.Text)[1])
		w.answers[reply{digits, n}]++
	case strings.Contains(m.Text, holdingMark):
		w.holding[digits]++
	case m.Text == followUpText:
		w.followUps[digits]++
	case strings.HasPrefix(m.Text, notifiedPrefix):
		w.notified[digits]++
	case m.Type == "template":
		w.templates[digits]++
	default:
		w.others = append(w.others, digits+": "+m.Text)
	}
	close(w.changed)
	w.changed = make(chan struct{})
}

// waitFor blocks until cond (called under the lock) holds.
func (w *world) waitFor(ctx context.Context, cond func() bool) error {
	for {
		w.mu.Lock()
		ok, ch := cond(), w.changed
		w.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// process is one `parley serve`.
type process struct {
	cmd    *exec.Cmd
	addr   string
	log    *syncBuffer
	exited chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (w *world) start(addr string) *process {
	w.t.Helper()
	cmd := exec.Command(binary, "serve")
	cmd.Env = append(append([]string{}, w.env...), "PARLEY_ADDR="+addr)
	cmd.Dir = w.dir
	log := &syncBuffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	p := &process{cmd: cmd, addr: addr, log: log, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(p.exited) }()
	w.t.Cleanup(p.kill)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get("http://" + addr + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-p.exited:
			w.t.Fatalf("parley exited at start:\n%s", log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	w.t.Fatalf("parley did not start:\n%s", log.String())
	return nil
}

// alive reports whether the process is still running.
func (p *process) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill() {
	if p.alive() {
		p.cmd.Process.Kill()
	}
	<-p.exited
}

// api calls the tenant's API on addr and decodes the answer into out (if
// not nil); it returns the status.
func (w *world) api(addr, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+addr+path, rd)
	req.Header.Set("Authorization", "Bearer "+w.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			return res.StatusCode, fmt.Errorf("%s %s: %w (%s)", method, path, err, b)
		}
	}
	if res.StatusCode >= 300 {
		return res.StatusCode, fmt.Errorf("%s %s = %d %s", method, path, res.StatusCode, b)
	}
	return res.StatusCode, nil
}

// setUp makes the tenant, the channel, the knowledge and the customers,
// and, with followUpDelay, a follow-up rule; it returns the customers'
// WhatsApp digits. Status webhooks go to p from here on.
func (w *world) setUp(p *process, customers int, followUpDelay string) []string {
	w.t.Helper()
	cmd := exec.Command(binary, "tenant", "create", "--name", "Reliable Shop")
	cmd.Env, cmd.Dir = w.env, w.dir
	out, err := cmd.Output()
	if err != nil {
		w.t.Fatalf("tenant create: %v", err)
	}
	var tn struct {
		APIKey string `json:"api_key"`
	}
	json.Unmarshal(out, &tn)
	w.key = tn.APIKey
	must := func(path string, body any, out any) {
		if _, err := w.api(p.addr, "POST", path, body, out); err != nil {
			w.t.Fatal(err)
		}
	}
	must("/api/channels", map[string]any{"type": "whatsapp", "name": "Main", "phone_number_id": numberID, "access_token": token}, nil)
	must("/api/documents", map[string]any{"title": "Opening hours", "body": "We open at 9 and close at 18."}, nil)
	if followUpDelay != "" {
		if _, err := w.api(p.addr, "PATCH", "/api/tenant", map[string]any{"features": map[string]bool{"followups": true}, "modules": []string{"APPOINTMENTS"}}, nil); err != nil {
			w.t.Fatal(err)
		}
		must("/api/followup-rules", map[string]any{"title": "Still there", "message": followUpText, "delay": followUpDelay, "send_as_written": true}, nil)
	}
	phones := make([]string, customers)
	for i := range phones {
		phones[i] = fmt.Sprintf("1555%07d", 7000+i)
		var c struct{ ID string }
		must("/api/customers", map[string]any{"phone": "+" + phones[i], "name": fmt.Sprintf("C%d", i)}, &c)
		w.ids[phones[i]] = c.ID
	}
	if w.statuses {
		w.graph.SendStatuses("http://"+p.addr+"/webhooks/whatsapp", appSecret)
	}
	return phones
}

// deliver posts one signed webhook until some process acknowledges it with
// 200, as Meta redelivers until it does. addrs says where to post now.
func (w *world) deliver(ctx context.Context, addrs func() []string, digits, wamid string, n int) error {
	body := whatsapptest.TextWebhook(whatsapptest.Inbound{PhoneNumberID: numberID, From: digits, Name: "Customer", ID: wamid, Time: time.Now()}, question(n))
	sig := whatsapptest.Sign(appSecret, body)
	for attempt := 0; ; attempt++ {
		targets := addrs()
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+targets[attempt%len(targets)]+"/webhooks/whatsapp", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", sig)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, res.Body)
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
}

// converse plays one customer: write message n, wait for the reply that
// answers it (or a holding reply, after which the team closes the ticket
// so the AI answers again), write n+1.
func (w *world) converse(ctx context.Context, addrs func() []string, digits string, messages int) error {
	for n := 0; n < messages; n++ {
		w.mu.Lock()
		held := w.holding[digits]
		w.mu.Unlock()
		if err := w.deliver(ctx, addrs, digits, fmt.Sprintf("wamid.REL.%s.%03d", digits, n), n); err != nil {
			return fmt.Errorf("customer %s: message %d not acknowledged: %w", digits, n, err)
		}
		var holding bool
		err := w.waitFor(ctx, func() bool {
			holding = w.holding[digits] > held
			return w.answers[reply{digits, n}] > 0 || holding
		})
		if err != nil {
			return fmt.Errorf("customer %s: no reply to message %d: %w", digits, n, err)
		}
		if holding {
			if err := w.closeTicket(ctx, addrs, digits); err != nil {
				return err
			}
		}
	}
	return nil
}

// closeTicket plays the team after a holding reply: it closes the
// customer's open ticket, which hands the conversation back to the AI.
func (w *world) closeTicket(ctx context.Context, addrs func() []string, digits string) error {
	for ctx.Err() == nil {
		addr := addrs()[0]
		var convs struct {
			Items []struct{ ID string }
		}
		var tickets struct {
			Items []struct {
				ID             string
				ConversationID string `json:"conversation_id"`
			}
		}
		_, err := w.api(addr, "GET", "/api/conversations?customer_id="+w.ids[digits], nil, &convs)
		if err == nil {
			_, err = w.api(addr, "GET", "/api/tickets?view=open&limit=200", nil, &tickets)
		}
		if err == nil {
			for _, tk := range tickets.Items {
				for _, c := range convs.Items {
					if tk.ConversationID == c.ID {
						if _, err := w.api(addr, "POST", "/api/tickets/"+tk.ID+"/close", nil, nil); err == nil {
							return nil
						}
					}
				}
			}
		}
		time.Sleep(200 * time.Millisecond) // the ticket opens in a job of its own; or the process restarts
	}
	return fmt.Errorf("customer %s: could not close the ticket: %w", digits, ctx.Err())
}

// conversations returns the customers' conversation ids.
func (w *world) conversations(addr string) (map[string]string, error) {
	out := map[string]string{}
	cursor := ""
	for {
		var page struct {
			Items []struct {
				ID           string
				ContactPhone string `json:"contact_phone"`
			}
			NextCursor string `json:"next_cursor"`
		}
		if _, err := w.api(addr, "GET", "/api/conversations?limit=200&cursor="+cursor, nil, &page); err != nil {
			return nil, err
		}
		for _, c := range page.Items {
			out[strings.TrimPrefix(c.ContactPhone, "+")] = c.ID
		}
		if page.NextCursor == "" {
			return out, nil
		}
		cursor = page.NextCursor
	}
}

// runCustomers runs every customer's conversation at once and returns a
// channel closed when all are done, and their errors.
func (w *world) runCustomers(ctx context.Context, addrs func() []string, phones []string, messages int) (<-chan struct{}, <-chan error) {
	errs := make(chan error, len(phones))
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range phones {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- w.converse(ctx, addrs, p, messages) }()
	}
	go func() { wg.Wait(); close(errs); close(done) }()
	return done, errs
}

// askForFollowUps asks for follow-ups by hand, as an agent clicking the
// button would, from two clients at once for random customers, on the
// address addr gives, until the returned stop is called; stop returns how
// many were accepted (202).
func (w *world) askForFollowUps(ctx context.Context, addr func() string, convs map[string]string, phones []string) (stop func() int64) {
	ctx, cancel := context.WithCancel(ctx)
	var requested atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				id := convs[phones[rand.IntN(len(phones))]]
				if code, _ := w.api(addr(), "POST", "/api/conversations/"+id+"/follow-up", nil, nil); code == 202 {
					requested.Add(1)
				}
				time.Sleep(time.Duration(50+rand.IntN(50)) * time.Millisecond)
			}
		}()
	}
	return func() int64 {
		cancel()
		wg.Wait()
		return requested.Load()
	}
}

package channel_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/meta/metatest"
	"github.com/parleyhq/parley/channel/twilio/twiliotest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

const (
	appSecret   = "app_secret_example"
	verifyToken = "verify-me"
	pnID        = "106000000000002" // the business number of the fixtures
	ana         = "5511999990000"   // a customer, as WhatsApp writes her number
	anaE164     = "+5511999990000"
	graphToken  = "token-main"
	publicURL   = "https://parley.example.com"
)

// now is where each test's fake clock starts: the wall clock's second.
// River's job rescuer reads the wall clock, so a fake clock far in the past
// would make every running job look stuck to it.
func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

var receivedKind = channel.ReceivedArgs{}.Kind()

// env is a whole Parley with one tenant and one WhatsApp channel.
type env struct {
	*apptest.Parley
	t      *testing.T
	clk    *clock.Fake
	tenant parley.Tenant
	key    string
	ch     parley.Channel
	// The sending side's: fake providers, the outbox, and the channels to
	// send on (wa is ch; tw is made on first use, see twc).
	graph  *whatsapptest.FakeGraph
	twilio *twiliotest.Server
	outbox *channel.Outbox
	wa, tw parley.Channel
}

// eachEngine runs fn on a fresh Parley on SQLite and on PostgreSQL.
func eachEngine(t *testing.T, fn func(t *testing.T, e *env)) {
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) { fn(t, start(t, engine, nil)) })
}

// eachSender is eachEngine with the fake Graph API and Twilio wired in as
// the providers that messages are sent to.
func eachSender(t *testing.T, fn func(t *testing.T, e *env)) {
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) { fn(t, startWith(t, engine, true, nil)) })
}

func start(t *testing.T, engine store.Engine, tune func(*config.Config)) *env {
	t.Helper()
	return startWith(t, engine, false, tune)
}

func startWith(t *testing.T, engine store.Engine, sending bool, tune func(*config.Config)) *env {
	t.Helper()
	clk := clock.NewFake(now())
	graph := whatsapptest.NewFakeGraph()
	t.Cleanup(graph.Close)
	graph.AddNumber(whatsapptest.Number{ID: pnID, Token: graphToken, Display: "+1 555-000-1111"})
	tw := twiliotest.NewWithClock(clk)
	t.Cleanup(tw.Close)
	tw.AddAccount(accountSID, authToken)
	p := apptest.Start(t, engine, clk, func(c *config.Config) {
		if sending {
			c.WhatsAppGraphURL, c.TwilioBaseURL, c.PublicURL = graph.URL, tw.URL, publicURL
		}
		c.WhatsAppAppSecret, c.WhatsAppVerifyToken = appSecret, verifyToken
		if tune != nil {
			tune(c)
		}
	})
	p.ShowLogsOnFailure(t)
	tn, key := p.Tenant("Acme")
	ch, err := p.Store.CreateChannel(context.Background(), parley.Channel{TenantID: tn.ID, Type: parley.ChannelWhatsApp, Name: "main",
		PhoneNumberID: pnID, AccessToken: graphToken, Active: true,
		// As if its ownership check had passed: webhooks go to verified channels only.
		Settings: map[string]string{parley.SettingCheck: parley.CheckOK}})
	if err != nil {
		t.Fatal(err)
	}
	// The app's send stage sends what this outbox queues.
	return &env{Parley: p, t: t, clk: clk, tenant: tn, key: key, ch: ch,
		graph: graph, twilio: tw, outbox: &channel.Outbox{Wake: p.Outbox.Wake}, wa: ch}
}

// twc is the tenant's Twilio channel, made on first use.
func (e *env) twc() parley.Channel {
	if e.tw.ID == "" {
		e.tw = e.twilioChannel()
	}
	return e.tw
}

// post sends a webhook body with the given X-Hub-Signature-256 ("" for none).
func (e *env) post(path string, body []byte, signature string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.URL()+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// deliver posts body as Meta would, signed, and expects 200.
func (e *env) deliver(body []byte) {
	e.t.Helper()
	if status, answer := e.post("/webhooks/whatsapp", body, whatsapptest.Sign(appSecret, body)); status != http.StatusOK {
		e.t.Fatalf("webhook answered %d %s, want 200", status, answer)
	}
}

func (e *env) text(id, from, name, body string) []byte {
	return whatsapptest.TextWebhook(whatsapptest.Inbound{PhoneNumberID: pnID, From: from, Name: name, ID: id, Time: e.clk.Now()}, body)
}

// message waits until the channel has the provider message and returns it.
func (e *env) message(wamid string) parley.Message {
	e.t.Helper()
	var m parley.Message
	apptest.Eventually(e.t, "message "+wamid+" in a conversation", func() bool {
		var err error
		m, err = e.Store.MessageByChannelID(context.Background(), e.ch.ID, wamid)
		return err == nil
	})
	return m
}

// settled waits until the receive stage has taken in every inbox message.
func (e *env) settled() {
	e.t.Helper()
	apptest.Eventually(e.t, "the inbox to be taken in", func() bool {
		n, err := e.Store.UnprocessedInbox(context.Background())
		return err == nil && n == 0
	})
}

// receivedJobs lists every received job, in any state: none is queued
// any more (the receive stage works the inbox rows themselves).
func (e *env) receivedJobs() []*rivertype.JobRow {
	e.t.Helper()
	res, err := e.Jobs.JobList(context.Background(), river.NewJobListParams().Kinds(receivedKind))
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Jobs
}

func (e *env) conversation(id string) parley.Conversation {
	e.t.Helper()
	c, err := e.Store.GetConversation(context.Background(), e.tenant.ID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) conversations() []parley.Conversation {
	e.t.Helper()
	cs, _, err := e.Store.ListConversations(context.Background(), e.tenant.ID, store.ConversationFilter{}, store.Page{Limit: 200})
	if err != nil {
		e.t.Fatal(err)
	}
	return cs
}

// messages are the contact's messages in a conversation: what the gateway
// stored. The answers the flow adds after routing are not the gateway's.
func (e *env) messages(convID string) []parley.Message {
	e.t.Helper()
	var in []parley.Message
	for _, m := range e.Messages(e.tenant.ID, convID) {
		if m.Role == parley.RoleCustomer {
			in = append(in, m)
		}
	}
	return in
}

func (e *env) events(convID string) []parley.Event { return e.Events(e.tenant.ID, convID) }

// channelEvents are the events the channel side logs; the ones that follow
// routing (the AI agent, tickets) are the conversation package's to test.
var channelEvents = map[string]bool{
	event.TextMessageReceived: true, event.TextMessageWithUserInfoReceived: true,
	event.MessageStatusChanged: true, event.MessageSendFailed: true,
}

func eventNames(evs []parley.Event) []string {
	var out []string
	for _, ev := range evs {
		if channelEvents[ev.Name] {
			out = append(out, ev.Name)
		}
	}
	return out
}

func (e *env) inbox() []store.InboxMessage {
	e.t.Helper()
	items, err := e.Store.InboxByChannel(context.Background(), e.tenant.ID, e.ch.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return items
}

// metric reads a parley_webhook_events_total sample from /metrics, as
// Prometheus would scrape it.
func (e *env) metric(provider, outcome string) float64 {
	e.t.Helper()
	res, err := http.Get(e.URL() + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	want := `parley_webhook_events_total{outcome="` + outcome + `",provider="` + provider + `"} `
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), want); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

func fixture(t testing.TB, name string) []byte {
	return metatest.Fixture(t, filepath.Join("..", "channel", "whatsapp", "testdata", "webhook"), name)
}

// outbound stores a message Parley sent earlier, with its wamid.
func (e *env) outbound(convID, wamid string, status parley.DeliveryStatus) parley.Message {
	e.t.Helper()
	m, err := e.Store.InsertMessage(context.Background(), parley.Message{TenantID: e.tenant.ID, ConversationID: convID, Role: parley.RoleAI,
		Content: "Your order is ready.", ChannelID: e.ch.ID, ChannelMessageID: wamid, Status: status})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	apptest.Eventually(t, "the webhook's message", cond)
}

// open opens a conversation on ch with a contact who last wrote
// `ago` ago (nil: never).
func (e *env) open(ch parley.Channel, phone string, ago *time.Duration) parley.Conversation {
	e.t.Helper()
	return e.Conversation(parley.Conversation{TenantID: e.tenant.ID, ContactPhone: phone, ChannelID: ch.ID}, e.clk.Now(), ago)
}

func ago(d time.Duration) *time.Duration { return apptest.Ago(d) }

// queue sends msg the one way everything sends: through the outbox.
func (e *env) queue(conv parley.Conversation, msg parley.Message) parley.Message {
	e.t.Helper()
	if msg.Role == "" {
		msg.Role = parley.RoleAI
	}
	var out parley.Message
	err := e.Store.InTx(context.Background(), func(q *store.Queries) error {
		var err error
		out, err = e.outbox.Queue(context.Background(), q, conv, msg)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) get(id string) parley.Message {
	e.t.Helper()
	m, err := e.Store.GetMessage(context.Background(), e.tenant.ID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// until waits for the message to reach a status.
func (e *env) until(id string, st parley.DeliveryStatus) parley.Message {
	e.t.Helper()
	var m parley.Message
	apptest.Eventually(e.t, "message "+string(st), func() bool {
		m = e.get(id)
		return m.Status == st
	})
	return m
}

// sendState is a message's place in the send stage.
type sendState struct {
	Attempts int
	NextAt   time.Time
	Marked   bool // an attempt called the provider and recorded nothing
	Leased   bool
}

func (e *env) sendState(msgID string) sendState {
	e.t.Helper()
	var st sendState
	var next int64
	var mark, lease sql.NullInt64
	err := e.Store.DB().QueryRowContext(context.Background(), `SELECT send_attempts, send_next_at, send_started_at, send_lease_until
		FROM messages WHERE id = $1`, msgID).Scan(&st.Attempts, &next, &mark, &lease)
	if err != nil {
		e.t.Fatal(err)
	}
	st.NextAt, st.Marked, st.Leased = time.UnixMicro(next).UTC(), mark.Valid, lease.Valid
	return st
}

// retrying waits until the message's attempts reached n and it waits,
// queued and released, for its next attempt.
func (e *env) retrying(msgID string, n int) sendState {
	e.t.Helper()
	var st sendState
	apptest.Eventually(e.t, fmt.Sprintf("%d failed attempts", n), func() bool {
		st = e.sendState(msgID)
		return st.Attempts == n && !st.Leased && e.get(msgID).Status == parley.StatusQueued
	})
	return st
}

// failedEvent returns the Message Send Failed event of a message.
func (e *env) failedEvent(convID, msgID string) map[string]any {
	e.t.Helper()
	for _, ev := range e.events(convID) {
		if ev.Name == event.MessageSendFailed && ev.Payload["message_id"] == msgID {
			return ev.Payload
		}
	}
	e.t.Fatalf("no %s event for %s", event.MessageSendFailed, msgID)
	return nil
}

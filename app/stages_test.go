package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/llm/llmtest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// The inbound stages end to end: group commit at the webhook, the receive
// stage over inbox rows, the answer stage over the answer queue, their
// leases, and two processes sharing one PostgreSQL database.

// echo answers each message with its own text, so a test can tell whose
// answer went where.
func echo(r llmtest.Request) llmtest.Reply { return answer("Re: "+r.LastUser(), false) }

// stageWorld is a Parley on dsn wired to the shared fakes; with a tenant
// and channel only when first is set (a second process shares them).
func stageWorld(t *testing.T, dsn string, clk clock.Clock, graph *whatsapptest.FakeGraph, model *llmtest.Server, first bool) *world {
	t.Helper()
	p := apptest.StartOn(t, dsn, clk, func(c *config.Config) {
		c.WhatsAppGraphURL, c.WhatsAppAppSecret = graph.URL, secret
		c.LLMBaseURL, c.LLMAPIKey, c.LLMModel = model.URL, "llm-key", "fake-model"
	})
	w := &world{Parley: p, graph: graph, model: model}
	if !first {
		return w
	}
	_, w.key = p.Tenant("Acme")
	if r := p.Do("POST", "/api/channels", w.key, map[string]any{"type": "whatsapp", "name": "Main", "phone_number_id": numberID, "access_token": token}); r.Status != 201 {
		t.Fatalf("create channel = %d %s", r.Status, r.Body)
	}
	// Webhooks are routed once the channel's ownership check has passed.
	apptest.Eventually(t, "the channel's ownership check", func() bool {
		var chs struct {
			Items []struct{ Settings map[string]string }
		}
		p.Do("GET", "/api/channels", w.key, nil).JSON(t, &chs)
		return len(chs.Items) == 1 && chs.Items[0].Settings[parley.SettingCheck] == parley.CheckOK
	})
	return w
}

func newFakes(t *testing.T) (*whatsapptest.FakeGraph, *llmtest.Server) {
	graph := whatsapptest.NewFakeGraph()
	t.Cleanup(graph.Close)
	graph.AddNumber(whatsapptest.Number{ID: numberID, Token: token, Display: "+1 555-000-0123", VerifiedName: "Acme"})
	model := llmtest.Start(llmtest.Options{APIKey: "llm-key", Responder: echo})
	t.Cleanup(model.Close)
	return graph, model
}

// post sends a signed text webhook from a number and returns the status.
func post(url, from, wamid, text string) (int, error) {
	body := whatsapptest.TextWebhook(whatsapptest.Inbound{PhoneNumberID: numberID, From: from, Name: "Contact " + from, ID: wamid, Time: time.Now()}, text)
	return whatsapptest.Post(url, secret, body)
}

// contact is the n-th test contact's number, as WhatsApp writes it.
func contact(n int) string { return fmt.Sprintf("55119990%05d", n) }

// answeredOnce checks the Graph API got exactly one answer per contact,
// carrying that contact's own words.
func answeredOnce(t *testing.T, sent []whatsapptest.SentMessage, n int) {
	t.Helper()
	per := map[string]int{}
	for _, s := range sent {
		to := strings.TrimPrefix(s.To, "+")
		per[to]++
		var i int
		if _, err := fmt.Sscanf(to, "55119990%05d", &i); err != nil || !strings.Contains(s.Text, fmt.Sprintf("question %d?", i)) {
			t.Errorf("answer to %s is %q: not its own question's", s.To, s.Text)
		}
	}
	for i := range n {
		if per[contact(i)] != 1 {
			t.Errorf("contact %s got %d answers, want 1", contact(i), per[contact(i)])
		}
	}
}

func inboxRows(t *testing.T, st *store.Store) []store.InboxMessage {
	t.Helper()
	var all []store.InboxMessage
	rows, err := st.DB().QueryContext(context.Background(), `SELECT tenant_id, channel_id FROM channel_inbox GROUP BY tenant_id, channel_id`)
	if err != nil {
		t.Fatal(err)
	}
	var keys [][2]string
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	for _, k := range keys {
		items, err := st.InboxByChannel(context.Background(), k[0], k[1])
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, items...)
	}
	return all
}

// Many webhooks at once are stored together, each exactly once, each
// acknowledged (200) after its commit, each answered once at the Graph
// API; a redelivery of one of them stores nothing and answers nothing.
func TestConcurrentWebhooksAreStoredOnceAndAnswered(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		graph, model := newFakes(t)
		w := stageWorld(t, storetest.DSN(t, engine), nil, graph, model, true)
		const n = 40
		var wg sync.WaitGroup
		codes := make([]int, n)
		gate := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				code, err := post(w.URL(), contact(i), fmt.Sprintf("wamid.GC.%d", i), fmt.Sprintf("question %d?", i))
				if err != nil {
					t.Error(err)
				}
				codes[i] = code
			}()
		}
		close(gate)
		wg.Wait()
		for i, c := range codes {
			if c != http.StatusOK {
				t.Fatalf("webhook %d answered %d, want 200", i, c)
			}
		}
		// Acknowledged means durable: every message is in the inbox now.
		if rows := inboxRows(t, w.Store); len(rows) != n {
			t.Fatalf("%d inbox rows right after the acks, want %d", len(rows), n)
		}
		answeredOnce(t, w.waitSent(t, n), n)

		// Meta redelivers one: acknowledged, nothing stored, nothing sent.
		if code, err := post(w.URL(), contact(7), "wamid.GC.7", "question 7?"); err != nil || code != http.StatusOK {
			t.Fatalf("redelivery: %d %v", code, err)
		}
		rows := inboxRows(t, w.Store)
		if len(rows) != n {
			t.Fatalf("%d inbox rows after a redelivery, want %d", len(rows), n)
		}
		for _, r := range rows {
			if r.ProcessedAt == nil || r.Outcome != "received" {
				t.Fatalf("inbox row %s: processed %v outcome %q", r.ProviderMessageID, r.ProcessedAt, r.Outcome)
			}
		}
		apptest.Eventually(t, "nothing left to answer", func() bool {
			a, err1 := w.Store.PendingAnswers(context.Background())
			u, err2 := w.Store.UnprocessedInbox(context.Background())
			return err1 == nil && err2 == nil && a == 0 && u == 0
		})
		if got := len(graph.Sent()); got != n {
			t.Fatalf("%d sends after the redelivery, want %d", got, n)
		}
		if model.Calls() != n {
			t.Fatalf("%d LLM calls for %d messages", model.Calls(), n)
		}
	})
}

// A process that claimed a batch and died (claimed, never committed)
// delays its messages by one lease: then another loop takes them, and they
// are answered once. Both stages: an inbox message and a queued answer.
func TestADeadProcessBatchIsTakenAgainAfterItsLease(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		graph, model := newFakes(t)
		// River's rescuer reads the wall clock: start the fake there.
		clk := clock.NewFake(time.Now().UTC().Truncate(time.Second))
		w := stageWorld(t, storetest.DSN(t, engine), clk, graph, model, true)
		var chs struct{ Items []parley.Channel }
		w.Do("GET", "/api/channels", w.key, nil).JSON(t, &chs)
		ch := chs.Items[0]

		// Receive stage: the message and the dead process's claim of it
		// commit together, so no live loop sees it free first.
		err := w.Store.InTx(ctx, func(q *store.Queries) error {
			if _, _, err := q.InsertInboxMany(ctx, []store.InboxMessage{{TenantID: ch.TenantID, ChannelID: ch.ID, ProviderMessageID: "wamid.DEAD.1",
				Sender: contact(1), ContactName: "Ana", Type: parley.MessageText, Content: "question 1?"}}); err != nil {
				return err
			}
			got, err := q.ClaimInbox(ctx, "dead-process", 10, 10*time.Second)
			if err == nil && len(got) != 1 {
				err = fmt.Errorf("dead process claimed %d", len(got))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := w.Store.ClaimInbox(ctx, "probe", 10, time.Second); err != nil || len(got) != 0 {
			t.Fatalf("a leased message was claimable: %d %v", len(got), err)
		}
		clk.Advance(11 * time.Second)
		sent := w.waitSent(t, 1)
		answeredOnce(t, sent, 0)
		if strings.TrimPrefix(sent[0].To, "+") != contact(1) {
			t.Fatalf("sent to %s", sent[0].To)
		}

		// Answer stage: a newer message queued for an answer, claimed by
		// a process that then died.
		var convs struct{ Items []parley.Conversation }
		w.Do("GET", "/api/conversations", w.key, nil).JSON(t, &convs)
		conv := convs.Items[0]
		err = w.Store.InTx(ctx, func(q *store.Queries) error {
			m, err := q.InsertMessage(ctx, parley.Message{TenantID: conv.TenantID, ConversationID: conv.ID, Role: parley.RoleCustomer,
				Type: parley.MessageText, Content: "question 1? again", ChannelID: ch.ID, ChannelMessageID: "wamid.DEAD.2", Status: parley.StatusReceived})
			if err != nil {
				return err
			}
			if err := q.QueueAnswer(ctx, conv.TenantID, conv.ID, m.ID); err != nil {
				return err
			}
			got, err := q.ClaimAnswers(ctx, "dead-process", 10, 10*time.Second)
			if err == nil && len(got) != 1 {
				err = fmt.Errorf("dead process claimed %d answers", len(got))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := w.Store.ClaimAnswers(ctx, "probe", 10, time.Second); err != nil || len(got) != 0 {
			t.Fatalf("a leased answer was claimable: %d %v", len(got), err)
		}
		clk.Advance(11 * time.Second)
		sent = w.waitSent(t, 2)
		if !strings.Contains(sent[1].Text, "again") {
			t.Fatalf("second answer %q is not for the newer message", sent[1].Text)
		}
		apptest.Eventually(t, "the answer queue empty", func() bool {
			n, err := w.Store.PendingAnswers(ctx)
			return err == nil && n == 0
		})
		if got := len(graph.Sent()); got != 2 {
			t.Fatalf("%d sends, want 2", got)
		}
	})
}

// Two processes on one PostgreSQL database split the inbox between their
// receive loops (FOR UPDATE SKIP LOCKED and leases): every message is taken
// in by exactly one of them, and answered once.
func TestTwoProcessesSplitTheInbox(t *testing.T) {
	t.Parallel()
	storetest.RequirePostgres(t)
	graph, model := newFakes(t)
	dsn := storetest.DSN(t, store.Postgres)
	a := stageWorld(t, dsn, nil, graph, model, true)
	b := stageWorld(t, dsn, nil, graph, model, false)
	const n = 60
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := a.URL()
			if i%2 == 1 {
				url = b.URL()
			}
			if code, err := post(url, contact(i), fmt.Sprintf("wamid.R.%d", i), fmt.Sprintf("question %d?", i)); err != nil || code != 200 {
				t.Errorf("webhook %d: %d %v", i, code, err)
			}
		}()
	}
	wg.Wait()
	answeredOnce(t, a.waitSent(t, n), n)

	// Each inbox message was taken in by one process: its id is in one
	// log's "inbound message received" lines, once.
	rows := inboxRows(t, a.Store)
	if len(rows) != n {
		t.Fatalf("%d inbox rows, want %d", len(rows), n)
	}
	took := func(logs, id string) int {
		c := 0
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, `"inbound message received"`) && strings.Contains(line, id) {
				c++
			}
		}
		return c
	}
	la, lb := a.Logs.String(), b.Logs.String()
	byA, byB := 0, 0
	for _, r := range rows {
		ca, cb := took(la, r.ID), took(lb, r.ID)
		if ca+cb != 1 {
			t.Errorf("inbox message %s taken in %d times by A and %d by B", r.ProviderMessageID, ca, cb)
		}
		byA, byB = byA+ca, byB+cb
	}
	if byA == 0 || byB == 0 {
		t.Errorf("the work was not split: A took %d, B took %d", byA, byB)
	}
	t.Logf("process A took in %d messages, B %d", byA, byB)
}

package followup_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/conversation"
	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/llm/llmtest"
	"github.com/parleyhq/parley/store"
)

// start is Wednesday 6 March 2030, noon UTC. River's job rescuer and
// cleaner read the wall clock; fake times in the future keep them from
// taking running jobs for stuck or deleting finished ones under the test.
var start = time.Date(2030, 3, 6, 12, 0, 0, 0, time.UTC)

// env is one running Parley with a tenant that has follow-ups switched on
// and one active WhatsApp channel.
type env struct {
	t       *testing.T
	p       *apptest.Parley
	clk     *clock.Fake
	key     string
	tenant  parley.Tenant
	channel parley.Channel
	convs   *conversation.Service
}

func newEnv(t *testing.T, engine store.Engine, tune func(*config.Config)) *env {
	t.Helper()
	clk := clock.NewFake(start)
	p := apptest.Start(t, engine, clk, fakeClockConfig(tune))
	return newTenantEnv(t, p, clk)
}

// fakeClockConfig keeps River's job rescuer, which reads the wall clock,
// from taking running jobs for stuck whatever the fake clock says.
func fakeClockConfig(tune func(*config.Config)) func(*config.Config) {
	return func(c *config.Config) {
		c.JobRescueAfter = 100 * 365 * 24 * time.Hour
		if tune != nil {
			tune(c)
		}
	}
}

func newTenantEnv(t *testing.T, p *apptest.Parley, clk *clock.Fake) *env {
	t.Helper()
	tn, key := p.Tenant("Acme")
	e := &env{t: t, p: p, clk: clk, key: key, tenant: tn}
	// The original design's rules: follow-ups need the APPOINTMENTS module and the feature.
	e.patchTenant(map[string]any{"features": map[string]bool{"followups": true}, "modules": []string{parley.ModuleAppointments}})
	ch, err := p.Store.CreateChannel(context.Background(), parley.Channel{TenantID: tn.ID, Type: parley.ChannelWhatsApp, Name: "Main",
		PhoneNumberID: "pn-" + randHex(), AccessToken: "token", Active: true})
	if err != nil {
		t.Fatal(err)
	}
	e.channel = ch
	e.convs = &conversation.Service{Outbox: p.Outbox, OnCustomerMessage: p.FollowUps.OnCustomerMessage}
	return e
}

func randHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (e *env) patchTenant(body map[string]any) {
	e.t.Helper()
	if r := e.p.Do("PATCH", "/api/tenant", e.key, body); r.Status != http.StatusOK {
		e.t.Fatalf("patch tenant = %d %s", r.Status, r.Body)
	}
}

// rule creates a follow-up rule through the API and returns its id.
func (e *env) rule(body map[string]any) string {
	e.t.Helper()
	if _, ok := body["channel_ids"]; !ok {
		body["channel_ids"] = []string{e.channel.ID}
	}
	r := e.p.Do("POST", "/api/followup-rules", e.key, body)
	if r.Status != http.StatusCreated {
		e.t.Fatalf("create rule = %d %s", r.Status, r.Body)
	}
	return r.Map(e.t)["id"].(string)
}

// customerWrites stores a text from phone through the conversation store,
// as the inbound flow does, and returns the conversation.
func (e *env) customerWrites(phone, text string) parley.Conversation {
	e.t.Helper()
	return e.inbound(phone, parley.Message{Type: parley.MessageText, Content: text})
}

func (e *env) inbound(phone string, m parley.Message) parley.Conversation {
	e.t.Helper()
	m.ChannelMessageID = "wamid." + randHex()
	var conv parley.Conversation
	err := e.p.Store.InTx(context.Background(), func(q *store.Queries) error {
		var err error
		conv, _, _, err = e.convs.Append(context.Background(), q, channel.Inbound{TenantID: e.tenant.ID, Channel: e.channel, Phone: phone, Message: m})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return conv
}

// writeAsAgent runs write in a transaction with the conversation as it is
// now, and returns the message it stored.
func (e *env) writeAsAgent(conv parley.Conversation, write func(ctx context.Context, q *store.Queries, c parley.Conversation) (parley.Message, error)) parley.Message {
	e.t.Helper()
	ctx := context.Background()
	var msg parley.Message
	err := e.p.Store.InTx(ctx, func(q *store.Queries) error {
		c, err := q.GetConversation(ctx, conv.TenantID, conv.ID)
		if err != nil {
			return err
		}
		msg, err = write(ctx, q, c)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return msg
}

// agentWrites queues an AI answer through the outbox.
func (e *env) agentWrites(conv parley.Conversation, text string) {
	e.t.Helper()
	ctx := context.Background()
	msg := e.writeAsAgent(conv, func(ctx context.Context, q *store.Queries, c parley.Conversation) (parley.Message, error) {
		return e.p.Outbox.Queue(ctx, q, c, parley.Message{Role: parley.RoleAI, Content: text})
	})
	// Its send job settles it (these channels' numbers are refused) before
	// the test moves the clock, as a live provider would within moments: a
	// message still queued much later holds its follow-ups back.
	deadline := time.Now().Add(20 * time.Second)
	for {
		m, err := e.p.Store.GetMessage(ctx, conv.TenantID, msg.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		if m.Status != parley.StatusQueued {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the agent's message %s is still queued", msg.ID)
		}
		time.Sleep(5 * time.Millisecond) // polling a background job, not making time pass
	}
}

// request asks for a follow-up by hand and waits until its job has ended.
func (e *env) request(conv parley.Conversation) {
	e.t.Helper()
	requestOn(e.t, e.p, e.key, conv.ID)
}

func requestOn(t *testing.T, p *apptest.Parley, key, convID string) {
	t.Helper()
	r := p.Do("POST", "/api/conversations/"+convID+"/follow-up", key, nil)
	if r.Status != http.StatusAccepted {
		t.Fatalf("request follow-up = %d %s", r.Status, r.Body)
	}
	var out followupRequested
	r.JSON(t, &out)
	waitJob(t, p, out.JobID, rivertype.JobStateCompleted)
}

type followupRequested struct {
	JobID int64 `json:"job_id"`
}

func waitJob(t *testing.T, p *apptest.Parley, id int64, want rivertype.JobState) {
	t.Helper()
	var last *rivertype.JobRow
	deadline := time.Now().Add(20 * time.Second)
	for {
		j, err := p.Jobs.JobGet(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		last = j
		if j.State == rivertype.JobStateCompleted || j.State == rivertype.JobStateCancelled || j.State == rivertype.JobStateDiscarded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d still %s (scheduled %s, errors %+v)", id, j.State, j.ScheduledAt, j.Errors)
		}
		time.Sleep(5 * time.Millisecond) // polling a background job, not making time pass
	}
	if last.State != want {
		t.Fatalf("job %d ended %s, want %s (errors %+v)", id, last.State, want, last.Errors)
	}
}

// followUps returns the follow-up messages queued in the conversation.
func (e *env) followUps(conv parley.Conversation) []parley.Message {
	e.t.Helper()
	return followUpsIn(e.t, e.p.Store, conv)
}

func followUpsIn(t *testing.T, s *store.Store, conv parley.Conversation) []parley.Message {
	t.Helper()
	msgs, _, err := s.ListMessages(context.Background(), conv.TenantID, conv.ID, store.Page{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	var out []parley.Message
	for _, m := range msgs {
		if m.Extra["followup_id"] != nil {
			out = append(out, m)
		}
	}
	return out
}

// events returns the conversation's follow-up decisions from its event log.
func (e *env) events(conv parley.Conversation, names ...string) []parley.Event {
	e.t.Helper()
	// Read from the store: the API's event route does not read its {id}
	// yet (an embedded path parameter), reported separately.
	items, _, err := e.p.Store.ListEvents(context.Background(), conv.TenantID, conv.ID, store.Page{Limit: 200})
	if err != nil {
		e.t.Fatal(err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []parley.Event
	for _, ev := range items {
		if want[ev.Name] {
			out = append(out, ev)
		}
	}
	return out
}

func (e *env) stats(ruleID string) map[string]any {
	e.t.Helper()
	r := e.p.Do("GET", "/api/followup-rules/"+ruleID+"/stats", e.key, nil)
	if r.Status != http.StatusOK {
		e.t.Fatalf("stats = %d %s", r.Status, r.Body)
	}
	return r.Map(e.t)
}

var _ = followup.EventSent

// newModelEnv is newEnv with a fake model (API key "k") that the test
// scripts.
func newModelEnv(t *testing.T, engine store.Engine) (*env, *llmtest.Server) {
	t.Helper()
	fake := llmtest.Start(llmtest.Options{APIKey: "k"})
	t.Cleanup(fake.Close)
	e := newEnv(t, engine, func(c *config.Config) {
		c.LLMBaseURL, c.LLMAPIKey, c.LLMModel = fake.URL, "k", "test-model"
	})
	return e, fake
}

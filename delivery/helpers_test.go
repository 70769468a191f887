package delivery_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel/twilio/twiliotest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/flow"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

const (
	pnID       = "106000000000002"
	graphToken = "token-main"
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "twilio-auth-token"
	ourNumber  = "+15550001111"
	anaE164    = "+5511999990000"
	publicURL  = "https://parley.example.com"
	appSecret  = "delivery-app-secret"
)

var sendKind = flow.SendMessageArgs{}.Kind()

// env is a whole Parley wired to a fake Graph API and a fake Twilio API,
// with one tenant, a WhatsApp and a Twilio channel, and an open
// conversation on each with a customer who wrote a minute ago.
type env struct {
	*apptest.Parley
	t      *testing.T
	clk    *clock.Fake
	graph  *whatsapptest.FakeGraph
	twilio *twiliotest.Server
	outbox *flow.Outbox
	tenant parley.Tenant
	wa, tw parley.Channel
}

func eachEngine(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) { fn(t, start(t, engine)) })
	}
}

func start(t *testing.T, engine store.Engine) *env {
	t.Helper()
	// The fake clock starts at the wall clock's time: River's job rescuer
	// reads the wall clock, and must not take running jobs for stuck ones.
	clk := clock.NewFake(time.Now().UTC().Truncate(time.Second))
	graph := whatsapptest.NewFakeGraph()
	t.Cleanup(graph.Close)
	graph.AddNumber(whatsapptest.Number{ID: pnID, Token: graphToken, Display: "+1 555-000-1111"})
	tw := twiliotest.NewWithClock(clk)
	t.Cleanup(tw.Close)
	tw.AddAccount(accountSID, authToken)

	p := apptest.Start(t, engine, clk, func(c *config.Config) {
		c.WhatsAppGraphURL, c.TwilioBaseURL, c.PublicURL = graph.URL, tw.URL, publicURL
		c.WhatsAppAppSecret = appSecret
	})
	t.Cleanup(func() {
		if t.Failed() {
			for _, line := range strings.Split(p.Logs.String(), "\n") {
				if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
					t.Log(line)
				}
			}
		}
	})
	tn, _ := p.Tenant("Acme")
	ctx := context.Background()
	wa, err := p.Store.CreateChannel(ctx, parley.Channel{TenantID: tn.ID, Type: parley.ChannelWhatsApp, Name: "wa", PhoneNumberID: pnID, AccessToken: graphToken, Active: true,
		Settings: map[string]string{parley.SettingCheck: parley.CheckOK}})
	if err != nil {
		t.Fatal(err)
	}
	twc, err := p.Store.CreateChannel(ctx, parley.Channel{TenantID: tn.ID, Type: parley.ChannelTwilio, Name: "tw", DisplayNumber: ourNumber, Active: true,
		Settings: map[string]string{"account_sid": accountSID, "auth_token": authToken}})
	if err != nil {
		t.Fatal(err)
	}
	ins := &jobs.Inserter{}
	ins.Set(p.Jobs)
	return &env{Parley: p, t: t, clk: clk, graph: graph, twilio: tw, outbox: &flow.Outbox{Jobs: ins}, tenant: tn, wa: wa, tw: twc}
}

// conversation opens a conversation on ch with a contact who last wrote
// `ago` ago (nil: never).
func (e *env) conversation(ch parley.Channel, phone string, ago *time.Duration) parley.Conversation {
	e.t.Helper()
	c := parley.Conversation{TenantID: e.tenant.ID, ContactPhone: phone, ChannelID: ch.ID}
	if ago != nil {
		at := e.clk.Now().Add(-*ago)
		c.LastCustomerMessageAt = &at
	}
	conv, err := e.Store.CreateConversation(context.Background(), c)
	if err != nil {
		e.t.Fatal(err)
	}
	return conv
}

func ago(d time.Duration) *time.Duration { return &d }

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

// job returns the send job of a message.
func (e *env) job(msgID string) *rivertype.JobRow {
	e.t.Helper()
	res, err := e.Jobs.JobList(context.Background(), river.NewJobListParams().Kinds(sendKind))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, j := range res.Jobs {
		if strings.Contains(string(j.EncodedArgs), msgID) {
			return j
		}
	}
	e.t.Fatalf("no send job for %s", msgID)
	return nil
}

// jobIn waits for the message's send job to reach a state.
func (e *env) jobIn(msgID string, state rivertype.JobState) *rivertype.JobRow {
	e.t.Helper()
	var j *rivertype.JobRow
	apptest.Eventually(e.t, "send job "+string(state), func() bool {
		j = e.job(msgID)
		return j.State == state
	})
	return j
}

func (e *env) events(convID string) []parley.Event {
	e.t.Helper()
	evs, _, err := e.Store.ListEvents(context.Background(), e.tenant.ID, convID, store.Page{Limit: 200})
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// failedEvent returns the Message Send Failed event of a message.
func (e *env) failedEvent(convID, msgID string) map[string]any {
	e.t.Helper()
	for _, ev := range e.events(convID) {
		if ev.Name == flow.MessageSendFailed && ev.Payload["message_id"] == msgID {
			return ev.Payload
		}
	}
	e.t.Fatalf("no %s event for %s", flow.MessageSendFailed, msgID)
	return nil
}

package eventbus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/conversation"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/eventbus"
	"github.com/parleyhq/parley/intake/nats/natstest"
	"github.com/parleyhq/parley/intake/sqs/sqstest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

func TestToken(t *testing.T) {
	for in, want := range map[string]string{
		"Ticket Opened":                           "ticket_opened",
		"Follow-Up Request":                       "follow_up_request",
		"WhatsApp Business Text Message Received": "whatsapp_business_text_message_received",
		"AI Agent Answer Generated":               "ai_agent_answer_generated",
	} {
		if got := eventbus.Token(in); got != want {
			t.Errorf("Token(%q) = %q, want %q", in, got, want)
		}
	}
}

// busEvent is what a consumer reads off the stream.
type busEvent struct {
	subject string
	eventbus.CloudEvent
}

func readBus(t *testing.T, url, stream string) []busEvent {
	t.Helper()
	var out []busEvent
	for _, m := range natstest.Messages(t, url, stream) {
		var ce eventbus.CloudEvent
		if err := json.Unmarshal(m.Data(), &ce); err != nil {
			t.Fatalf("not a CloudEvent: %s", m.Data())
		}
		out = append(out, busEvent{m.Subject(), ce})
	}
	return out
}

// writer appends customer messages (and so events) as the inbound flow does.
type writer struct {
	t       *testing.T
	p       *apptest.Parley
	tenant  parley.Tenant
	channel parley.Channel
	n       int
}

func newWriter(t *testing.T, p *apptest.Parley) *writer {
	tn, _ := p.Tenant("Acme")
	ch, err := p.Store.CreateChannel(context.Background(), parley.Channel{TenantID: tn.ID, Type: parley.ChannelWhatsApp, Name: "Main",
		PhoneNumberID: fmt.Sprint(time.Now().UnixNano()), AccessToken: "token", Active: true})
	if err != nil {
		t.Fatal(err)
	}
	return &writer{t: t, p: p, tenant: tn, channel: ch}
}

func (w *writer) write(p *apptest.Parley, phone string) {
	w.t.Helper()
	w.n++
	svc := &conversation.Service{Outbox: p.Outbox}
	err := p.Store.InTx(context.Background(), func(q *store.Queries) error {
		_, _, _, err := svc.Append(context.Background(), q, channel.Inbound{TenantID: w.tenant.ID, Channel: w.channel, Phone: phone,
			Message: parley.Message{Type: parley.MessageText, Content: fmt.Sprintf("message %d", w.n), ChannelMessageID: fmt.Sprintf("wamid.%d.%d", time.Now().UnixNano(), w.n)}})
		return err
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

// dbEvents lists every event of the tenant's conversations, per conversation in log order.
func dbEvents(t *testing.T, s *store.Store, tenantID string) map[string][]string {
	t.Helper()
	ctx := context.Background()
	convs, _, err := s.ListConversations(ctx, tenantID, store.ConversationFilter{}, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, c := range convs {
		evs, _, err := s.ListEvents(ctx, tenantID, c.ID, store.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			out[c.ID] = append(out[c.ID], e.ID)
		}
	}
	return out
}

func count(m map[string][]string) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

// TestEventsReachTheBusInOrderThroughOutagesAndRestarts: every event of the
// log is published once, in order per conversation, though the broker is
// down for a while and Parley restarts while it is.
func TestEventsReachTheBusInOrderThroughOutagesAndRestarts(t *testing.T) {
	// Not t.Parallel: it stops and restarts a broker and waits on its
	// redelivery timers, which other tests' load would stretch.
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		broker := natstest.StartServer(t)
		dsn := storetest.DSN(t, engine)
		tune := func(c *config.Config) { c.EventsURL = broker.URL + "/EVENTS" }
		p := apptest.StartOn(t, dsn, nil, tune)
		w := newWriter(t, p)
		phones := []string{"+5511999990201", "+5511999990202", "+5511999990203"}
		for i := 0; i < 4; i++ {
			for _, ph := range phones {
				w.write(p, ph)
			}
		}
		apptest.Eventually(t, "the events on the bus", func() bool {
			return len(readBus(t, broker.URL, "EVENTS")) == count(dbEvents(t, p.Store, w.tenant.ID))
		})

		// The broker goes down: events wait in the outbox, and say so.
		broker.Stop()
		for _, ph := range phones {
			w.write(p, ph)
		}
		apptest.Eventually(t, "the backlog shown by /readyz", func() bool {
			r := p.Do("GET", "/readyz", "", nil)
			var body struct {
				Backlog int64 `json:"event_backlog"`
			}
			_ = json.Unmarshal(r.Body, &body)
			return r.Status == http.StatusOK && body.Backlog > 0
		})
		// Parley restarts while the broker is still down; more events come.
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		p = apptest.StartOn(t, dsn, nil, tune)
		for _, ph := range phones {
			w.write(p, ph)
		}
		broker.Start()

		want := dbEvents(t, p.Store, w.tenant.ID)
		apptest.Eventually(t, "the backlog published", func() bool { return len(readBus(t, broker.URL, "EVENTS")) >= count(want) })
		got := map[string][]string{}
		seen := map[string]bool{}
		for _, e := range readBus(t, broker.URL, "EVENTS") {
			if seen[e.ID] {
				t.Errorf("event %s published twice", e.ID)
			}
			seen[e.ID] = true
			if e.SpecVersion != "1.0" || e.TenantID != w.tenant.ID || e.subject != "parley."+w.tenant.ID+"."+eventbus.Token(e.EventName) || e.Type != "parley."+eventbus.Token(e.EventName) {
				t.Errorf("envelope %+v on subject %s", e.CloudEvent, e.subject)
			}
			got[e.ConversationID] = append(got[e.ConversationID], e.ID)
		}
		if len(want) != len(phones) {
			t.Fatalf("%d conversations, want %d", len(want), len(phones))
		}
		for conv, ids := range want {
			if fmt.Sprint(got[conv]) != fmt.Sprint(ids) {
				t.Errorf("conversation %s: bus has %v, log has %v", conv, got[conv], ids)
			}
		}
		t.Logf("%d events in the log, %d on the bus", count(want), len(seen))
	})
}

// TestEventsReachAnSNSTopic: with an SNS topic ARN as PARLEY_EVENTS_URL,
// every event reaches a queue subscribed to the topic, as a CloudEvent with
// its subject attribute.
func TestEventsReachAnSNSTopic(t *testing.T) {
	// Not t.Parallel: sqstest sets the AWS credentials in the environment,
	// where Parley's SDK client reads them.
	srv := sqstest.Start(t)
	ctx := context.Background()
	snsc := awssns.New(awssns.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		topic, err := snsc.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("parley-events-" + string(engine))})
		if err != nil {
			t.Fatal(err)
		}
		queue, _ := srv.CreateQueue(t, "parley-events-"+string(engine), 30*time.Second, "")
		qa, err := srv.Client.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(queue), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := snsc.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
			Endpoint: aws.String(qa.Attributes["QueueArn"]), Attributes: map[string]string{"RawMessageDelivery": "true"}}); err != nil {
			t.Fatal(err)
		}
		p := apptest.Start(t, engine, nil, func(c *config.Config) {
			c.EventsURL, c.SNSEndpoint = aws.ToString(topic.TopicArn), srv.Endpoint
		})
		w := newWriter(t, p)
		for i := 0; i < 3; i++ {
			w.write(p, "+5511999990211")
			w.write(p, "+5511999990212")
		}
		want := dbEvents(t, p.Store, w.tenant.ID)
		got := map[string][]string{}
		apptest.Eventually(t, "the events at the subscribed queue", func() bool {
			for _, m := range srv.Receive(t, queue) {
				var ce eventbus.CloudEvent
				if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ce); err != nil {
					t.Fatalf("not a CloudEvent: %s", aws.ToString(m.Body))
				}
				if s := aws.ToString(m.MessageAttributes["subject"].StringValue); s != "parley."+w.tenant.ID+"."+eventbus.Token(ce.EventName) {
					t.Fatalf("subject attribute %q for %s", s, ce.EventName)
				}
				got[ce.ConversationID] = append(got[ce.ConversationID], ce.ID)
			}
			return count(got) >= count(want)
		})
		for conv, ids := range want {
			if fmt.Sprint(got[conv]) != fmt.Sprint(ids) {
				t.Errorf("conversation %s: queue has %v, log has %v", conv, got[conv], ids)
			}
		}
	})
}

// TestOverlappingTransactionsPublishInLogOrder: two transactions write
// events of one conversation at once, the first still open when the
// second would commit. The bus must still carry them in the log's order.
func TestOverlappingTransactionsPublishInLogOrder(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		if engine == store.SQLite {
			t.Skip("SQLite commits one writing transaction at a time: the two cannot overlap")
		}
		broker := natstest.StartServer(t)
		p := apptest.Start(t, engine, nil, func(c *config.Config) { c.EventsURL = broker.URL + "/EVENTS" })
		w := newWriter(t, p)
		w.write(p, "+5511999990221")
		convs, _, err := p.Store.ListConversations(context.Background(), w.tenant.ID, store.ConversationFilter{}, store.Page{Limit: 1})
		if err != nil || len(convs) != 1 {
			t.Fatalf("conversations %v, %v", convs, err)
		}
		conv := convs[0].ID
		failed := func(q *store.Queries, reason string) error {
			return q.AppendEvent(context.Background(), w.tenant.ID, conv, event.MessageSendFailed,
				event.MessageStatusPayload{MessageID: reason, ChannelID: w.channel.ID, ErrorReason: reason, Source: "send"})
		}

		// The first transaction writes its event (ListEvents writes what is
		// pending) and stays open until released.
		written, release, firstDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			firstDone <- p.Store.InTx(context.Background(), func(q *store.Queries) error {
				if err := failed(q, "first"); err != nil {
					return err
				}
				if _, _, err := q.ListEvents(context.Background(), w.tenant.ID, conv, store.Page{Limit: 100}); err != nil {
					return err
				}
				close(written)
				<-release
				return nil
			})
		}()
		<-written
		secondDone := make(chan error, 1)
		go func() {
			secondDone <- p.Store.InTx(context.Background(), func(q *store.Queries) error { return failed(q, "second") })
		}()
		// Either the second waits for the first, or it commits and the
		// publisher has had the chance to send it ahead of the first.
		apptest.Eventually(t, "the second transaction waiting or its event on the bus", func() bool {
			var waiting int
			if err := p.Store.DB().QueryRow(`SELECT COUNT(*) FROM pg_locks
				WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			if waiting > 0 {
				return true
			}
			for _, e := range readBus(t, broker.URL, "EVENTS") {
				if e.EventName == event.MessageSendFailed {
					return true
				}
			}
			return false
		})
		close(release)
		if err := <-firstDone; err != nil {
			t.Fatal(err)
		}
		if err := <-secondDone; err != nil {
			t.Fatal(err)
		}

		want := dbEvents(t, p.Store, w.tenant.ID)[conv]
		var got []string
		apptest.Eventually(t, "every event on the bus", func() bool {
			got = got[:0]
			for _, e := range readBus(t, broker.URL, "EVENTS") {
				got = append(got, e.ID)
			}
			return len(got) >= len(want)
		})
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("bus has %v, log has %v", got, want)
		}
	})
}

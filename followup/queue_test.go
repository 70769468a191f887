package followup_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/followup"
	natsintake "github.com/parleyhq/parley/intake/nats"
	"github.com/parleyhq/parley/intake/nats/natstest"
	sqsintake "github.com/parleyhq/parley/intake/sqs"
	"github.com/parleyhq/parley/intake/sqs/sqstest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// queuedRequests returns the Follow-Up Request events the queue source made.
func (e *env) queuedRequests(conv parley.Conversation, source string) []parley.Event {
	var out []parley.Event
	for _, ev := range e.events(conv, followup.EventRequest) {
		if ev.Payload["requested_by"] == "queue:"+source {
			out = append(out, ev)
		}
	}
	return out
}

func TestQueuedRequestsFollowTheSeedSchema(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		conv := e.customerWrites("+5511999990101", "Hi")
		ctx := context.Background()
		batch := []followup.QueuedRequest{
			{MessageID: "m1", Body: []byte(`{"id":"` + conv.ID + `","sent_by":"cron","attempt":2}`)}, // extra keys are stripped, as Zod does
			{MessageID: "m2", Body: []byte(`not json`)},
			{MessageID: "m3", Body: []byte(`{"id":5}`)},
			{MessageID: "m4", Body: []byte(`{"conversation":"` + conv.ID + `"}`)},
			{MessageID: "m5", Body: []byte(`["` + conv.ID + `"]`)},
			{MessageID: "m6", Body: []byte(`{"id":"conversation-123"}`)},
			{MessageID: "m7", Body: []byte(`{"id":"a\u0000b"}`)},                         // names nothing, and must not fail the batch
			{MessageID: "m8", Body: []byte(`{"id":"` + strings.ToUpper(conv.ID) + `"}`)}, // the id in capitals is the same conversation
		}
		out, err := e.p.FollowUps.AcceptQueued(ctx, "test", batch)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{followup.QueueAccepted, followup.QueueMalformed, followup.QueueMalformed, followup.QueueMalformed, followup.QueueMalformed,
			followup.QueueUnknownConversation, followup.QueueUnknownConversation, followup.QueueAccepted}
		for i, o := range out {
			if o.Outcome != want[i] {
				t.Errorf("message %s: outcome %q (%s), want %q", batch[i].MessageID, o.Outcome, o.Reason, want[i])
			}
			if o.Outcome != followup.QueueAccepted && o.Reason == "" {
				t.Errorf("message %s: %s without a reason", batch[i].MessageID, o.Outcome)
			}
		}
		waitJob(t, e.p, out[0].JobID, rivertype.JobStateCompleted)

		// The queue redelivers m1 (its delete or ack was lost): taken in once.
		again, err := e.p.FollowUps.AcceptQueued(ctx, "test", batch[:1])
		if err != nil {
			t.Fatal(err)
		}
		if again[0].Outcome != followup.QueueDuplicate {
			t.Fatalf("redelivered message: %+v, want duplicate", again[0])
		}
		// Another queue's message of the same id is another message.
		other, err := e.p.FollowUps.AcceptQueued(ctx, "other", batch[:1])
		if err != nil || other[0].Outcome != followup.QueueAccepted {
			t.Fatalf("same id from another queue: %+v %v", other, err)
		}
		if got := e.queuedRequests(conv, "test"); len(got) != 2 || got[0].Payload["job_id"] != float64(out[0].JobID) {
			t.Fatalf("Follow-Up Request events from the queue = %+v, want two (m1, m8), the first for job %d", got, out[0].JobID)
		}
	})
}

// flaky hands batches to the follow-up service, but fails the first call
// before anything is written (a database outage) and the second after its
// commit (the process died before it could acknowledge): the queue must
// redeliver both times, and the message must be taken in once.
type flaky struct {
	real  *followup.Service
	mu    sync.Mutex
	calls int
}

var errInjected = errors.New("injected failure")

func (f *flaky) AcceptQueued(ctx context.Context, source string, batch []followup.QueuedRequest) ([]followup.QueueOutcome, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.mu.Unlock()
	switch n {
	case 1:
		return nil, errInjected
	case 2:
		if _, err := f.real.AcceptQueued(ctx, source, batch); err != nil {
			return nil, err
		}
		return nil, errInjected
	}
	return f.real.AcceptQueued(ctx, source, batch)
}

func (f *flaky) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func TestFollowUpRequestsFromSQS(t *testing.T) {
	// Not t.Parallel: it waits on the broker's redelivery timers, which
	// other tests' load would stretch.
	sqs := sqstest.Start(t)
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		queue, dlq := sqs.CreateQueue(t, "followups-"+string(engine), 1*time.Second, "followups-dead-"+string(engine))
		e := newEnv(t, engine, func(c *config.Config) {
			c.FollowUpQueueURL = queue
			c.SQSEndpoint = sqs.Endpoint
		})
		conv := e.customerWrites("+5511999990102", "Hi")
		source := "sqs:followups-" + string(engine)

		// Published by another service, as the original design has it: taken in once.
		sqs.Send(t, queue, `{"id":"`+conv.ID+`","origin":"scheduler"}`)
		sqs.Send(t, queue, `{"conversation_id":"`+conv.ID+`"}`)
		apptest.Eventually(t, "the request taken in and the queue emptied", func() bool {
			return len(e.queuedRequests(conv, source)) == 1 && sqs.Count(t, queue) == 0
		})
		ev := e.queuedRequests(conv, source)[0]
		waitJob(t, e.p, int64(ev.Payload["job_id"].(float64)), rivertype.JobStateCompleted)

		// The malformed one is in the dead-letter queue, with its reason.
		dead := sqs.Receive(t, dlq)
		if len(dead) != 1 || aws.ToString(dead[0].Body) != `{"conversation_id":"`+conv.ID+`"}` {
			t.Fatalf("dead-letter queue holds %+v", dead)
		}
		if r := aws.ToString(dead[0].MessageAttributes["parley_reason"].StringValue); r != `payload has no "id"` {
			t.Fatalf("dead letter reason = %q", r)
		}

		// A failed batch and a lost delete: SQS redelivers, taken in once.
		queue2, _ := sqs.CreateQueue(t, "followups-flaky-"+string(engine), 1*time.Second, "")
		f := &flaky{real: e.p.FollowUps}
		c, err := sqsintake.New(context.Background(), sqsintake.Config{QueueURL: queue2, Endpoint: sqs.Endpoint, WaitTime: time.Second}, f, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = c.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		sqs.Send(t, queue2, `{"id":"`+conv.ID+`"}`)
		source2 := "sqs:followups-flaky-" + string(engine)
		apptest.Eventually(t, "the redelivered request settled", func() bool {
			return f.count() >= 3 && sqs.Count(t, queue2) == 0
		})
		if got := e.queuedRequests(conv, source2); len(got) != 1 {
			t.Fatalf("%d Follow-Up Requests from one message delivered 3 times, want 1", len(got))
		}
	})
}

func TestFollowUpRequestsFromNATS(t *testing.T) {
	// Not t.Parallel: it waits on the broker's redelivery timers, which
	// other tests' load would stretch.
	url := natstest.URL(t)
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		st := natstest.NewStream(t, url)
		e := newEnv(t, engine, func(c *config.Config) {
			c.FollowUpQueueURL = url + "/" + st.Name + "/" + st.Subject
			c.FollowUpDeadLetter = st.Name + ".dead"
		})
		conv := e.customerWrites("+5511999990103", "Hi")
		source := "nats:" + st.Name

		st.Publish(t, `{"id":"`+conv.ID+`","origin":"scheduler"}`)
		st.Publish(t, `{"id":["`+conv.ID+`"]}`)
		apptest.Eventually(t, "the request taken in and the malformed one dead-lettered", func() bool {
			return len(e.queuedRequests(conv, source)) == 1 && len(st.DeadLetters(t)) == 1
		})
		ev := e.queuedRequests(conv, source)[0]
		waitJob(t, e.p, int64(ev.Payload["job_id"].(float64)), rivertype.JobStateCompleted)
		dead := st.DeadLetters(t)[0]
		if string(dead.Data()) != `{"id":["`+conv.ID+`"]}` || dead.Headers().Get("Parley-Reason") != `"id" is not a string` {
			t.Fatalf("dead letter = %s %v", dead.Data(), dead.Headers())
		}

		// A failed batch and a lost ack on a second stream: JetStream
		// redelivers, taken in once.
		st2 := natstest.NewStream(t, url)
		f := &flaky{real: e.p.FollowUps}
		c, err := natsintake.New(context.Background(), natsintake.Config{URL: url + "/" + st2.Name + "/" + st2.Subject,
			AckWait: time.Second, RetryDelay: 100 * time.Millisecond}, f, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = c.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done; c.Close() })
		st2.Publish(t, `{"id":"`+conv.ID+`"}`)
		apptest.Eventually(t, "the redelivered request settled", func() bool {
			return f.count() >= 3 && len(e.queuedRequests(conv, "nats:"+st2.Name)) == 1
		})
		if got := e.queuedRequests(conv, "nats:"+st2.Name); len(got) != 1 {
			t.Fatalf("%d Follow-Up Requests from one message delivered 3 times, want 1", len(got))
		}
	})
}

// Package nats reads Follow-Up Requests from a NATS JetStream subject
// through a durable pull consumer with explicit acks, ten messages a fetch,
// and hands each batch to the follow-up service in one transaction.
package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parleyhq/parley/followup"
)

// Acceptor takes a batch of queued requests in one transaction;
// *followup.Service is one.
type Acceptor interface {
	AcceptQueued(ctx context.Context, source string, batch []followup.QueuedRequest) ([]followup.QueueOutcome, error)
}

// Durable is the name of Parley's consumer on the stream: replicas share it,
// so each message goes to one of them.
const Durable = "parley-followup-requests"

// Config says what to read.
type Config struct {
	// URL is nats://host:port/<stream>/<subject>. A stream that does not
	// exist is created for the subject.
	URL string
	// DeadLetter is the subject malformed requests are published to ("":
	// they are terminated and logged, and stay in the stream).
	DeadLetter string
	// AckWait is how long JetStream waits for an ack before redelivering
	// (default 30 s); RetryDelay how long a nak'd batch waits (default 5 s).
	AckWait    time.Duration
	RetryDelay time.Duration
}

// ParseURL splits nats://host:port/<stream>/<subject> into the server
// address, the stream and the subject.
func ParseURL(raw string) (server, stream, subject string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "nats" || u.Host == "" {
		return "", "", "", fmt.Errorf("%q is not a nats://host:port/<stream>/<subject> URL", raw)
	}
	stream, subject, ok := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if !ok || stream == "" || subject == "" || strings.ContainsAny(stream, ".*> ") {
		return "", "", "", fmt.Errorf("%q: want nats://host:port/<stream>/<subject>", raw)
	}
	u.Path = ""
	return u.String(), stream, subject, nil
}

// Consumer reads one stream's subject.
//
// A message is acked once the batch that holds it has committed; a process
// that dies before that leaves JetStream to redeliver it after the ack wait,
// and the receipt recorded with it makes the copy a no-op. A batch that
// fails to commit is nak'd with a delay. A malformed message is published to
// the dead-letter subject, when one is configured, and terminated.
type Consumer struct {
	nc       *natsgo.Conn
	js       jetstream.JetStream
	cons     jetstream.Consumer
	source   string
	dead     string
	retry    time.Duration
	acc      Acceptor
	log      *slog.Logger
	maxBatch int
}

// New connects, makes sure the stream and the durable consumer exist, and
// returns a consumer ready to Run.
func New(ctx context.Context, cfg Config, acc Acceptor, log *slog.Logger) (*Consumer, error) {
	server, stream, subject, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	nc, err := natsgo.Connect(server, natsgo.Name("parley follow-up requests"), natsgo.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("nats: connect to %s: %w", server, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: %w", err)
	}
	st, err := js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subject}})
		log.InfoContext(ctx, "created the follow-up request stream", "stream", stream, "subject", subject)
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: stream %s: %w", stream, err)
	}
	ackWait := cfg.AckWait
	if ackWait <= 0 {
		ackWait = 30 * time.Second
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: Durable, FilterSubject: subject, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: ackWait, MaxDeliver: -1, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: consumer on %s: %w", stream, err)
	}
	retry := cfg.RetryDelay
	if retry <= 0 {
		retry = 5 * time.Second
	}
	source := "nats:" + stream
	return &Consumer{nc: nc, js: js, cons: cons, source: source, dead: cfg.DeadLetter, retry: retry,
		acc: acc, log: log.With("source", source), maxBatch: 10}, nil
}

// Source names the stream in receipts, events and metrics.
func (c *Consumer) Source() string { return c.source }

// Close drops the connection.
func (c *Consumer) Close() { c.nc.Close() }

// Run fetches and hands over batches until ctx ends.
func (c *Consumer) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := c.Poll(ctx, 5*time.Second); err != nil && ctx.Err() == nil {
			c.log.WarnContext(ctx, "follow-up queue: batch failed, its messages will be redelivered", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

// Poll waits up to wait for a message, takes whatever else is ready with
// it (up to ten in all), and settles each of them.
func (c *Consumer) Poll(ctx context.Context, wait time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	first, err := c.cons.Next(jetstream.FetchContext(wctx))
	if wctx.Err() != nil || errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, natsgo.ErrTimeout) {
		return nil // nothing came, or we are stopping
	}
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	msgs := []jetstream.Msg{first}
	more, err := c.cons.FetchNoWait(c.maxBatch - 1)
	if err != nil {
		return c.settle(ctx, msgs)
	}
	for m := range more.Messages() {
		msgs = append(msgs, m)
	}
	return c.settle(ctx, msgs)
}

// settle hands msgs to the follow-up service in one transaction and acks,
// naks or dead-letters each by its outcome.
func (c *Consumer) settle(ctx context.Context, msgs []jetstream.Msg) error {
	batch := make([]followup.QueuedRequest, len(msgs))
	for i, m := range msgs {
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("message metadata: %w", err)
		}
		// The stream sequence names the message; its store time keeps the
		// name unique if the stream is ever recreated.
		batch[i] = followup.QueuedRequest{MessageID: fmt.Sprintf("%d-%d", md.Sequence.Stream, md.Timestamp.UnixNano()), Body: m.Data()}
	}
	outcomes, err := c.acc.AcceptQueued(ctx, c.source, batch)
	if err != nil {
		for _, m := range msgs {
			_ = m.NakWithDelay(c.retry)
		}
		return err
	}
	var errs []error
	for i, m := range msgs {
		if outcomes[i].Outcome == followup.QueueMalformed {
			errs = append(errs, c.deadLetter(ctx, m, batch[i].MessageID, outcomes[i].Reason))
			continue
		}
		if err := m.Ack(); err != nil {
			// Taken in already: a redelivery will find its receipt.
			errs = append(errs, fmt.Errorf("ack %s: %w", batch[i].MessageID, err))
		}
	}
	return errors.Join(errs...)
}

// deadLetter publishes a malformed message to the dead-letter subject with
// its reason and terminates it; without a subject it is terminated and
// logged (it stays in the stream under the stream's limits).
func (c *Consumer) deadLetter(ctx context.Context, m jetstream.Msg, id, reason string) error {
	if c.dead != "" {
		out := natsgo.NewMsg(c.dead)
		out.Data = m.Data()
		out.Header.Set("Parley-Reason", reason)
		out.Header.Set("Parley-Source", c.source)
		out.Header.Set("Parley-Message-Id", id)
		if _, err := c.js.PublishMsg(ctx, out); err != nil {
			// No stream keeps the subject (or the broker refused): the
			// message stays in its own stream, terminated, not looping.
			c.log.ErrorContext(ctx, "malformed follow-up request terminated: publishing it to the dead-letter subject failed",
				"message_id", id, "subject", c.dead, "reason", reason, "err", err)
		} else {
			c.log.WarnContext(ctx, "malformed follow-up request moved to the dead-letter subject", "message_id", id, "subject", c.dead, "reason", reason)
		}
	} else {
		c.log.ErrorContext(ctx, "malformed follow-up request terminated (no dead-letter subject configured)", "message_id", id, "reason", reason)
	}
	if err := m.Term(); err != nil {
		return fmt.Errorf("terminate %s: %w", id, err)
	}
	return nil
}

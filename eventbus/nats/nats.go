// Package nats is the event bus on NATS JetStream: events are published to
// parley.<tenant>.<event> subjects of one stream, with the event id as the
// message id, so JetStream drops a copy published twice within its
// duplicate window.
package nats

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parleyhq/parley/eventbus"
)

// Bus publishes to one stream.
type Bus struct {
	nc     *natsgo.Conn
	js     jetstream.JetStream
	stream string
}

// ParseURL splits nats://host:port/<stream>.
func ParseURL(raw string) (server, stream string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "nats" || u.Host == "" {
		return "", "", fmt.Errorf("%q is not a nats://host:port/<stream> URL", raw)
	}
	stream = strings.Trim(u.Path, "/")
	if stream == "" || strings.ContainsAny(stream, "./*> ") {
		return "", "", fmt.Errorf("%q: want nats://host:port/<stream>", raw)
	}
	u.Path = ""
	return u.String(), stream, nil
}

// New connects and makes sure the stream exists (created over "parley.>"
// when it does not). The connection reconnects by itself after an outage.
func New(ctx context.Context, rawURL string) (*Bus, error) {
	server, stream, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	nc, err := natsgo.Connect(server, natsgo.Name("parley events"), natsgo.MaxReconnects(-1),
		natsgo.RetryOnFailedConnect(true), natsgo.ReconnectWait(500*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("nats: connect to %s: %w", server, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: %w", err)
	}
	b := &Bus{nc: nc, js: js, stream: stream}
	if err := b.ensureStream(ctx, stream); err != nil {
		// Not fatal: the broker may be down now; publishing retries.
		return b, fmt.Errorf("nats: stream %s: %w", stream, err)
	}
	return b, nil
}

func (b *Bus) ensureStream(ctx context.Context, stream string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := b.js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = b.js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{"parley.>"}})
	}
	return err
}

// Publish stores one message in the stream and waits for its ack.
func (b *Bus) Publish(ctx context.Context, m eventbus.Message) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := b.js.Publish(ctx, m.Subject, m.Data, jetstream.WithMsgID(m.ID))
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		// The broker was down when we started, or lost the stream.
		if err := b.ensureStream(ctx, b.stream); err != nil {
			return err
		}
		_, err = b.js.Publish(ctx, m.Subject, m.Data, jetstream.WithMsgID(m.ID))
	}
	return err
}

// Close drops the connection.
func (b *Bus) Close() { b.nc.Close() }

// Package natstest gives tests a NATS JetStream server on loopback: the one
// at PARLEY_TEST_NATS_URL (default nats://127.0.0.1:4222, which .ci/run
// starts). Without it tests skip, unless CI is set.
package natstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// URL returns the server's address, skipping the test without one.
func URL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("PARLEY_TEST_NATS_URL")
	if u == "" {
		u = "nats://127.0.0.1:4222"
	}
	nc, err := natsgo.Connect(u, natsgo.Timeout(2*time.Second))
	if err == nil {
		nc.Close()
		return u
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("NATS at %s is unreachable and CI is set: %v", u, err)
	}
	t.Skipf("NATS at %s is unreachable (%v): skipping", u, err)
	return ""
}

// Stream is a stream made for one test, deleted when it ends.
type Stream struct {
	Name    string
	Subject string
	JS      jetstream.JetStream
}

// NewStream creates a stream of a random name over subjects
// "<name>.requests" and "<name>.dead".
func NewStream(t *testing.T, url string) *Stream {
	t.Helper()
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "PARLEYTEST_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), name) })
	return &Stream{Name: name, Subject: name + ".requests", JS: js}
}

// Publish puts body on the stream's request subject.
func (s *Stream) Publish(t *testing.T, body string) {
	t.Helper()
	if _, err := s.JS.Publish(context.Background(), s.Subject, []byte(body)); err != nil {
		t.Fatal(err)
	}
}

// DeadLetters reads what reached the "<name>.dead" subject.
func (s *Stream) DeadLetters(t *testing.T) []jetstream.Msg {
	t.Helper()
	ctx := context.Background()
	c, err := s.JS.OrderedConsumer(ctx, s.Name, jetstream.OrderedConsumerConfig{FilterSubjects: []string{s.Name + ".dead"}})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.FetchNoWait(100)
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	for m := range batch.Messages() {
		out = append(out, m)
	}
	return out
}

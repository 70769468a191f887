// Package natstest gives tests a NATS JetStream server on loopback: the one
// at PARLEY_TEST_NATS_URL (default nats://127.0.0.1:4222, which .ci/run
// starts). Without it tests skip, unless CI is set.
package natstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
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

// Server is a nats-server process of the test's own, so the test may stop
// and restart it (its JetStream store survives, as a real broker's does).
type Server struct {
	URL  string
	port int
	dir  string
	cmd  *exec.Cmd
	t    *testing.T
}

// StartServer runs nats-server with JetStream on a free loopback port until
// the test ends; it skips without the binary, unless CI is set.
func StartServer(t *testing.T) *Server {
	t.Helper()
	if _, err := exec.LookPath(serverBinary()); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("nats-server is not installed and CI is set")
		}
		t.Skip("nats-server is not installed: skipping")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{URL: "nats://127.0.0.1:" + strconv.Itoa(port), port: port, dir: t.TempDir(), t: t}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

func serverBinary() string {
	if _, err := os.Stat("/usr/sbin/nats-server"); err == nil {
		return "/usr/sbin/nats-server"
	}
	return "nats-server"
}

// Start starts the server (again) and waits until it answers.
func (s *Server) Start() {
	s.t.Helper()
	s.cmd = exec.Command(serverBinary(), "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-js", "-sd", s.dir)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		nc, err := natsgo.Connect(s.URL, natsgo.Timeout(time.Second))
		if err == nil {
			nc.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("nats-server did not answer on %s: %v", s.URL, err)
		}
		time.Sleep(20 * time.Millisecond) // waiting for a process to listen, not making time pass
	}
}

// Stop kills the server (SIGKILL: an outage, not a shutdown).
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// Messages reads every message of the stream, in stream order.
func Messages(t *testing.T, url, stream string) []jetstream.Msg {
	t.Helper()
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	for {
		batch, err := c.FetchNoWait(500)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			out = append(out, m)
			n++
		}
		if n == 0 {
			return out
		}
	}
}

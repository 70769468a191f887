package whatsapp_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/channel/whatsapp"
	"github.com/parleyhq/parley/clock"
)

// sleeper stands in for the limiter's wait: it records each wait and, if
// advance is set, moves the fake clock by it, as a real sleep would.
type sleeper struct {
	clock   *clock.Fake
	advance bool

	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	if s.advance {
		s.clock.Advance(d)
	}
	return ctx.Err()
}

func (s *sleeper) recorded() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.waits)
}

func TestRateLimitSpacesSendsPerNumber(t *testing.T) {
	fc := clock.NewFake(time.Date(2025, 10, 9, 12, 0, 0, 0, time.UTC))
	s := &sleeper{clock: fc, advance: true}
	f := newFake(t)
	c := newClient(t, f, whatsapp.Config{RateLimit: 2, Clock: fc, Sleep: s.sleep})
	send := func(pn, tok, text string) {
		t.Helper()
		if _, err := c.Send(t.Context(), tok, pn, whatsapp.Outbound{To: ana, Text: text}); err != nil {
			t.Fatalf("Send %s: %v", text, err)
		}
	}
	send(pnID, token, "1")           // the first slot is free
	send(pnID, token, "2")           // waits half a second at 2/s
	send(otherPN, otherTok, "other") // another number has its own budget
	send(pnID, token, "3")
	if got, want := s.recorded(), []time.Duration{500 * time.Millisecond, 500 * time.Millisecond}; !reflect.DeepEqual(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
	var order []string
	for _, m := range f.Sent() {
		order = append(order, m.Text)
	}
	if want := []string{"1", "2", "other", "3"}; !reflect.DeepEqual(order, want) {
		t.Errorf("fake received %v, want %v", order, want)
	}

	// A quiet second refills the slot; an override changes the spacing.
	fc.Advance(time.Second)
	c.SetRateLimit(pnID, 4)
	send(pnID, token, "4")
	send(pnID, token, "5")
	if got := s.recorded(); got[len(got)-1] != 250*time.Millisecond || len(got) != 3 {
		t.Errorf("waits after override = %v, want one more of 250ms", got)
	}
	c.SetRateLimit(pnID, -1) // unlimited
	send(pnID, token, "6")
	send(pnID, token, "7")
	if got := s.recorded(); len(got) != 3 {
		t.Errorf("unlimited number waited: %v", got)
	}
}

// Concurrent senders get distinct, evenly spaced slots: at 80/s (the
// default) the n-th waits n × 12.5 ms, whatever order they arrive in.
func TestRateLimitConcurrentSlots(t *testing.T) {
	fc := clock.NewFake(time.Date(2025, 10, 9, 12, 0, 0, 0, time.UTC))
	s := &sleeper{clock: fc} // the clock stands still: all reserve at once
	f := newFake(t)
	c, err := whatsapp.NewClient(whatsapp.Config{BaseURL: f.URL, Clock: fc, Sleep: s.sleep})
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := c.Send(t.Context(), token, pnID, whatsapp.Outbound{To: ana, Text: "hi"}); err != nil {
				t.Errorf("Send: %v", err)
			}
		})
	}
	wg.Wait()
	got := s.recorded()
	slices.Sort(got)
	var want []time.Duration
	for i := 1; i < n; i++ {
		want = append(want, time.Duration(i)*12500*time.Microsecond)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
	if len(f.Sent()) != n {
		t.Errorf("fake received %d, want %d", len(f.Sent()), n)
	}
}

// A caller whose context ends while waiting for a slot gets a retryable
// error and nothing is sent.
func TestRateLimitWaitCancelled(t *testing.T) {
	fc := clock.NewFake(time.Date(2025, 10, 9, 12, 0, 0, 0, time.UTC))
	f := newFake(t)
	ctx, cancel := context.WithCancel(t.Context())
	sleep := func(ctx context.Context, d time.Duration) error {
		cancel() // the job's deadline passes during the wait
		return ctx.Err()
	}
	c := newClient(t, f, whatsapp.Config{RateLimit: 1, Clock: fc, Sleep: sleep})
	if _, err := c.Send(ctx, token, pnID, whatsapp.Outbound{To: ana, Text: "first"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Send(ctx, token, pnID, whatsapp.Outbound{To: ana, Text: "second"})
	if !errors.Is(err, context.Canceled) || !whatsapp.Retryable(err) {
		t.Fatalf("err = %v; want retryable, wrapping context.Canceled", err)
	}
	if n := f.Requests(); n != 1 {
		t.Errorf("fake saw %d requests, want only the first", n)
	}
}

package whatsapp

import (
	"context"
	"sync"
	"time"

	"github.com/parleyhq/parley/clock"
)

// DefaultRateLimit is Meta's default throughput per business number (§6).
const DefaultRateLimit = 80

// limiter spaces sends per phone number evenly at its rate, so a burst of
// jobs never trips Meta's throughput limit (130429). Each send reserves the
// next free slot under the lock, then waits outside it; slots are handed out
// in call order.
type limiter struct {
	clock clock.Clock
	sleep func(context.Context, time.Duration) error
	rate  float64 // default messages per second; <0 means unlimited

	mu    sync.Mutex
	rates map[string]float64   // per-number overrides
	next  map[string]time.Time // earliest time of the next slot per number
}

func (l *limiter) setRate(phoneNumberID string, perSecond float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if perSecond == 0 {
		delete(l.rates, phoneNumberID)
		return
	}
	if l.rates == nil {
		l.rates = map[string]float64{}
	}
	l.rates[phoneNumberID] = perSecond
}

// reserve takes the number's next slot and returns how long to wait for it.
func (l *limiter) reserve(phoneNumberID string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	rate, ok := l.rates[phoneNumberID]
	if !ok {
		rate = l.rate
	}
	if rate <= 0 {
		return 0
	}
	if l.next == nil {
		l.next = map[string]time.Time{}
	}
	now := l.clock.Now()
	slot := l.next[phoneNumberID]
	if slot.Before(now) {
		slot = now
	}
	l.next[phoneNumberID] = slot.Add(time.Duration(float64(time.Second) / rate))
	return slot.Sub(now)
}

// wait blocks until the number may send, or ctx ends.
func (l *limiter) wait(ctx context.Context, phoneNumberID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d := l.reserve(phoneNumberID)
	if d <= 0 {
		return nil
	}
	return l.sleep(ctx, d)
}

// sleepContext waits d on the wall clock, returning early when ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

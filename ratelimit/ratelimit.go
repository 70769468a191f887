// Package ratelimit keeps one token bucket per key (a tenant, an IP
// address), so one noisy caller cannot starve the others.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/parleyhq/parley/clock"
)

// Keyed limits each key to Rate events per second with bursts of Burst.
// Idle keys are forgotten so the map stays small.
type Keyed struct {
	rate  rate.Limit
	burst int
	clock clock.Clock

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns a limiter; perSecond <= 0 disables it (every call allowed).
func New(perSecond float64, burst int, clk clock.Clock) *Keyed {
	if clk == nil {
		clk = clock.Real{}
	}
	if burst < 1 {
		burst = 1
	}
	lim := rate.Limit(perSecond)
	if perSecond <= 0 {
		lim = rate.Inf
	}
	return &Keyed{rate: lim, burst: burst, clock: clk, buckets: map[string]*bucket{}}
}

// Allow takes one token for key. When none is left it says how long until
// one is, for a Retry-After header (whole seconds, at least 1).
func (k *Keyed) Allow(key string) (ok bool, retryAfter time.Duration) {
	if k.rate == rate.Inf {
		return true, 0
	}
	now := k.clock.Now()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sweep(now)
	b := k.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(k.rate, k.burst)}
		k.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, time.Duration(math.Ceil(d.Seconds())) * time.Second
	}
	return true, 0
}

// sweep drops buckets idle long enough to be full again.
func (k *Keyed) sweep(now time.Time) {
	if now.Sub(k.swept) < time.Minute {
		return
	}
	k.swept = now
	full := time.Duration(float64(k.burst)/float64(k.rate)*float64(time.Second)) + time.Second
	for key, b := range k.buckets {
		if now.Sub(b.seen) > full {
			delete(k.buckets, key)
		}
	}
}

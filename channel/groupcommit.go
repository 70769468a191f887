package channel

import (
	"context"
	"sync"
	"time"

	"github.com/parleyhq/parley/store"
)

// Group commit: webhook requests that arrive together are stored in one
// transaction, and each is answered only after the commit that holds it, so
// nothing is acknowledged before it is durable. A request waits at most the
// group window (about a millisecond) for company; while a commit runs, the
// requests that arrive meanwhile form the next group. A group whose commit
// fails is committed again one request at a time, so one request the
// database refuses fails only itself (5xx: the provider retries it) and
// cannot take its neighbours down with it, however often it comes back.

// commitReq is one webhook request waiting for its commit.
type commitReq struct {
	provider string
	batches  []Batch
	t        tally
	done     chan error
}

// committer queues the requests of the next group.
type committer struct {
	mu         sync.Mutex
	queue      []*commitReq
	running    int           // goroutines committing groups
	collecting bool          // one of them is gathering the next group
	full       chan struct{} // a group's worth is waiting: stop the window early
}

// ingest stores one webhook's batches with whatever other requests are
// being stored at the same moment, and returns once they are committed
// (nil) or failed.
func (g *Gateway) Ingest(ctx context.Context, provider string, batches []Batch) error {
	r := &commitReq{provider: provider, batches: batches, t: tally{}, done: make(chan error, 1)}
	c := &g.group
	c.mu.Lock()
	c.queue = append(c.queue, r)
	// A new committer starts only when none is gathering a group and the
	// others are busy committing: on PostgreSQL a commit is network round
	// trips, and one group at a time cannot keep up with a few hundred
	// requests a second (statuses included).
	start := !c.collecting && c.running < g.groupWorkers
	if start {
		c.running++
		c.collecting = true
	}
	if len(c.queue) >= g.groupMax {
		select {
		case c.full <- struct{}{}:
		default:
		}
	}
	c.mu.Unlock()
	if start {
		go g.commitGroups()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		// The client left: the commit may still happen, and a provider's
		// redelivery is then a duplicate, which changes nothing.
		return ctx.Err()
	}
}

// commitGroups commits groups until no request waits. It runs in its own
// goroutine (not a request's), so a request is answered as soon as its own
// group commits.
func (g *Gateway) commitGroups() {
	c := &g.group
	if g.groupWindow > 0 {
		timer := time.NewTimer(g.groupWindow)
		select {
		case <-timer.C:
		case <-c.full:
			timer.Stop()
		}
	}
	for {
		c.mu.Lock()
		n := min(len(c.queue), g.groupMax)
		if n == 0 {
			c.running--
			c.collecting = false
			c.mu.Unlock()
			return
		}
		group := append([]*commitReq(nil), c.queue[:n]...)
		c.queue = append(c.queue[:0], c.queue[n:]...)
		select { // a full signal for this group is spent
		case <-c.full:
		default:
		}
		c.collecting = false
		c.mu.Unlock()
		g.commitGroup(group)
		c.mu.Lock()
		if c.collecting || len(c.queue) == 0 {
			c.running-- // another committer gathers what came meanwhile
			c.mu.Unlock()
			return
		}
		c.collecting = true
		c.mu.Unlock()
	}
}

func (g *Gateway) commitGroup(group []*commitReq) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := g.store.InTx(ctx, func(q *store.Queries) error { return g.ingestGroup(ctx, q, group) })
	if err != nil && len(group) > 1 {
		g.log.WarnContext(ctx, "webhook group commit failed; storing its requests one by one", "requests", len(group), "err", err)
		for _, r := range group {
			g.commitGroup([]*commitReq{r})
		}
		return
	}
	if err == nil {
		g.commits.Inc()
	}
	stored := 0
	for _, r := range group {
		if err == nil {
			for outcome, n := range r.t {
				g.Count(r.provider, outcome, n)
			}
			stored += r.t["stored"]
		}
		r.done <- err
	}
	if stored > 0 {
		g.receiving.Wake()
	}
}

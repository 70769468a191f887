package channel

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/parleyhq/parley/store"
)

// Taking a message into its conversation right after the webhook is
// answered, rather than when a worker next polls the queue, saves the
// reply a poll interval and the queue a job round trip. The received job
// is still inserted with the message, in the webhook's transaction, but
// scheduled ReceivedTimeout later: it is the backstop, deleted in the
// commit that takes the (last) message in, and only runs when that did
// not happen (the process died, the database failed). At most Inline runs
// go at once; beyond that the job is inserted to run at once, as without
// any of this, so a burst queues instead of piling up goroutines.
type inliner struct {
	slots  chan struct{}
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
}

func newInliner(n int) *inliner {
	ctx, cancel := context.WithCancel(context.Background())
	return &inliner{slots: make(chan struct{}, n), ctx: ctx, cancel: cancel}
}

// acquire takes a slot if one is free (and the gateway is not closing).
func (in *inliner) acquire() bool {
	if in == nil {
		return false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return false
	}
	select {
	case in.slots <- struct{}{}:
		in.wg.Add(1)
		return true
	default:
		return false
	}
}

func (in *inliner) release() {
	<-in.slots
	in.wg.Done()
}

// inlineRun is one webhook's messages for one channel, to take in after
// the commit, and the id of the backstop job inserted for them.
type inlineRun struct {
	args     ReceivedArgs
	backstop int64
}

// startInline runs the inline runs of a committed webhook, each in its own
// goroutine holding the slot acquired for it.
func (g *Gateway) startInline(runs []inlineRun) {
	for _, r := range runs {
		go func() {
			defer g.inline.release()
			ctx, cancel := context.WithTimeout(g.inline.ctx, g.receivedTimeout)
			defer cancel()
			log := g.log.With("tenant_id", r.args.TenantID, "channel_id", r.args.ChannelID, "backstop_job_id", r.backstop)
			// A bug here must not take the process down: as River does for
			// a job, recover, log, and hand the messages to their backstop
			// job now rather than at its time.
			defer func() {
				if p := recover(); p != nil {
					log.ErrorContext(ctx, "inline run panicked; its job takes the messages in", "panic", fmt.Sprint(p), "trace", string(debug.Stack()))
					if err := g.jobs.RunNow(context.WithoutCancel(ctx), r.backstop); err != nil {
						log.ErrorContext(ctx, "backstop job not made due; it runs at its time", "err", err)
					}
				}
			}()
			for i, id := range r.args.InboxIDs {
				backstop := int64(0)
				if i == len(r.args.InboxIDs)-1 {
					backstop = r.backstop
				}
				if err := g.receive(ctx, log, r.args.TenantID, id, backstop); err != nil {
					log.WarnContext(ctx, "inbound message left to its job", "inbox_id", id, "err", err)
					return
				}
			}
		}()
	}
}

// abandon gives back the slots of runs whose transaction did not commit.
func (g *Gateway) abandon(runs []inlineRun) {
	for range runs {
		g.inline.release()
	}
}

// insertReceived inserts the received job in the webhook's transaction:
// as a backstop when an inline slot is free (the run is added to runs),
// else to run at once.
func (g *Gateway) insertReceived(ctx context.Context, q *store.Queries, args ReceivedArgs, runs *[]inlineRun) error {
	if !g.inline.acquire() {
		return g.jobs.InsertTx(ctx, q.Tx(), args, nil)
	}
	at := g.store.Clock().Now().Add(g.receivedTimeout)
	id, err := g.jobs.InsertBackstopTx(ctx, q.Tx(), args, nil, at)
	if err != nil || id == 0 {
		g.inline.release()
		return err
	}
	*runs = append(*runs, inlineRun{args: args, backstop: id})
	return nil
}

// Close stops taking messages in inline and waits for the runs under way,
// until ctx ends; then it cancels them (their backstop jobs finish the work).
func (g *Gateway) Close(ctx context.Context) {
	in := g.inline
	if in == nil {
		return
	}
	in.mu.Lock()
	in.closed = true
	in.mu.Unlock()
	done := make(chan struct{})
	go func() { in.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		in.cancel()
		<-done
	}
	in.cancel()
}

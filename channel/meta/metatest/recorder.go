package metatest

import (
	"context"
	"sync"
)

// Recorder is the bookkeeping every fake Graph API keeps: the requests
// that reached it, the sends it accepted (or handed to an observer), the
// scripted answers it has yet to give, and a way to wait for any of it.
// S is the fake's record of a send, R its scripted answer. The zero value
// is ready; it is safe for concurrent use.
type Recorder[S, R any] struct {
	mu       sync.Mutex
	requests int
	seq      int
	sent     []S
	script   []R
	observe  func(S)
	changed  chan struct{} // closed and replaced on every change
}

// Request counts one request that reached the fake.
func (r *Recorder[S, R]) Request() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
}

// Requests counts every request that reached the fake, accepted or not.
func (r *Recorder[S, R]) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// Observe hands every accepted send to fn as it arrives, instead of
// keeping it for Sent: a load generator's fake would otherwise grow
// without bound.
func (r *Recorder[S, R]) Observe(fn func(S)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.observe = fn
}

// Script queues answers for the next valid sends, in order.
func (r *Recorder[S, R]) Script(rs ...R) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.script = append(r.script, rs...)
}

// Next takes the first queued answer; ok is false when none is queued.
func (r *Recorder[S, R]) Next() (resp R, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.script) == 0 {
		return resp, false
	}
	resp = r.script[0]
	r.script = r.script[1:]
	return resp, true
}

// Accept records the send build makes from the next sequence number
// (1, 2, …), so ids and Sent keep one order, and returns it.
func (r *Recorder[S, R]) Accept(build func(seq int) S) S {
	r.mu.Lock()
	r.seq++
	s := build(r.seq)
	observe := r.observe
	if observe == nil {
		r.sent = append(r.sent, s)
	}
	r.notifyLocked()
	r.mu.Unlock()
	if observe != nil {
		observe(s)
	}
	return s
}

// Sent returns the accepted sends, in the order they were accepted.
func (r *Recorder[S, R]) Sent() []S {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]S(nil), r.sent...)
}

// WaitSent waits until at least n sends were accepted, and returns them.
func (r *Recorder[S, R]) WaitSent(ctx context.Context, n int) ([]S, error) {
	err := r.Wait(ctx, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.sent) >= n
	})
	return r.Sent(), err
}

// Notify wakes the waiters: a fake calls it after changing state of its
// own that a Wait condition reads.
func (r *Recorder[S, R]) Notify() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notifyLocked()
}

func (r *Recorder[S, R]) notifyLocked() {
	if r.changed != nil {
		close(r.changed)
	}
	r.changed = make(chan struct{})
}

// Wait blocks until cond holds or ctx ends, giving ctx's error. cond is
// called without the Recorder's lock and takes whatever locks it needs;
// a change made before a Notify is never missed.
func (r *Recorder[S, R]) Wait(ctx context.Context, cond func() bool) error {
	for {
		r.mu.Lock()
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		ch := r.changed
		r.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

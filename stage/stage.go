// Package stage runs one step of the message path as a loop over batches:
// each turn claims ready rows under a lease, works them outside any
// transaction and commits their results together (README, "How work
// flows").
package stage

import (
	"context"
	"log/slog"
	"time"
)

// Turn claims one batch, works it and commits it. It returns how many rows
// it took; an error is logged and the loop waits a Poll before trying again.
type Turn func(ctx context.Context) (int, error)

// Loop runs a Turn over and over. Wake it after a commit that made rows
// ready; it never blocks the caller. It runs a turn when woken, when the
// last turn took a full batch, and otherwise every Poll, which bounds how
// late an expired lease is noticed.
type Loop struct {
	Name  string
	Turn  Turn
	Batch int           // a turn that took this many runs again at once
	Poll  time.Duration // the longest wait between turns; default 200 ms
	Log   *slog.Logger

	wake chan struct{}
}

// New builds a loop.
func New(name string, batch int, poll time.Duration, turn Turn, log *slog.Logger) *Loop {
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Loop{Name: name, Turn: turn, Batch: batch, Poll: poll, Log: log, wake: make(chan struct{}, 1)}
}

// Wake asks for a turn soon. Many wakes before the turn make one turn.
func (l *Loop) Wake() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Run turns until ctx ends.
func (l *Loop) Run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		case <-timer.C:
		}
		for ctx.Err() == nil {
			n, err := l.Turn(ctx)
			if err != nil {
				if ctx.Err() == nil {
					l.Log.WarnContext(ctx, "stage turn failed; trying again shortly", "stage", l.Name, "err", err)
				}
				break
			}
			if n < l.Batch || l.Batch <= 0 {
				break
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(l.Poll)
	}
}

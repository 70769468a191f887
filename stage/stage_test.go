package stage

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// A full batch runs the next turn at once; a short one waits for a wake.
func TestLoopTurnsAgainAfterAFullBatchAndOnWake(t *testing.T) {
	var turns atomic.Int32
	ready := make(chan int, 16)
	for _, n := range []int{10, 10, 3} {
		ready <- n
	}
	done := make(chan struct{}, 16)
	l := New("test", 10, time.Hour, func(ctx context.Context) (int, error) {
		turns.Add(1)
		defer func() { done <- struct{}{} }()
		select {
		case n := <-ready:
			return n, nil
		default:
			return 0, nil
		}
	}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Run(ctx)
	for range 3 { // the first turn runs at start; two full batches chain
		<-done
	}
	if got := turns.Load(); got != 3 {
		t.Fatalf("turns after two full batches and a short one = %d, want 3", got)
	}
	ready <- 2
	l.Wake()
	<-done
	if got := turns.Load(); got != 4 {
		t.Fatalf("turns after a wake = %d, want 4", got)
	}
}

// A failing turn does not stop the loop: the next wake runs another.
func TestLoopSurvivesAFailedTurn(t *testing.T) {
	calls := make(chan int, 4)
	var n atomic.Int32
	l := New("test", 1, time.Hour, func(ctx context.Context) (int, error) {
		c := int(n.Add(1))
		calls <- c
		if c == 1 {
			return 0, errors.New("database gone")
		}
		return 0, nil
	}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Run(ctx)
	<-calls
	l.Wake()
	if got := <-calls; got != 2 {
		t.Fatalf("turn after a failure = %d, want 2", got)
	}
}

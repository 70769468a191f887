package metatest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/channel/meta/metatest"
)

func TestRecorder(t *testing.T) {
	var r metatest.Recorder[string, int]
	r.Script(1, 2)
	if a, ok := r.Next(); !ok || a != 1 {
		t.Fatalf("Next = %d %v, want 1", a, ok)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { r.Accept(func(seq int) string { return fmt.Sprint(seq) }) })
	}
	sent, err := r.WaitSent(t.Context(), 20)
	wg.Wait()
	if err != nil || len(sent) != 20 {
		t.Fatalf("WaitSent = %d sends, %v", len(sent), err)
	}
	for i, s := range sent {
		if s != fmt.Sprint(i+1) {
			t.Fatalf("Sent()[%d] = %s: ids and order differ", i, s)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.WaitSent(ctx, 21); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitSent past the deadline: %v", err)
	}
	var seen []string
	r.Observe(func(s string) { seen = append(seen, s) })
	r.Accept(func(seq int) string { return "x" })
	if len(seen) != 1 || len(r.Sent()) != 20 {
		t.Fatalf("observed %v, kept %d: an observed send is not kept", seen, len(r.Sent()))
	}
}

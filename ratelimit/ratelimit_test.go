package ratelimit

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/clock"
)

func TestEachKeyHasItsOwnBucket(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := New(2, 3, clk) // 2/s, bursts of 3
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	ok, after := l.Allow("a")
	if ok || after != time.Second {
		t.Fatalf("4th request: ok=%v retry after %v, want refused with 1s", ok, after)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key is limited by the first key's use")
	}
	clk.Advance(500 * time.Millisecond) // one token back
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("token not refilled after 500ms at 2/s")
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("more than the refill allowed")
	}
}

func TestDisabledAllowsEverything(t *testing.T) {
	l := New(0, 0, nil)
	for i := 0; i < 1000; i++ {
		if ok, _ := l.Allow("x"); !ok {
			t.Fatal("a disabled limiter refused")
		}
	}
}

func TestIdleKeysAreForgotten(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := New(10, 10, clk)
	for i := 0; i < 100; i++ {
		l.Allow(string(rune('a' + i%26)))
	}
	clk.Advance(2 * time.Minute)
	l.Allow("z")
	if n := len(l.buckets); n != 1 {
		t.Fatalf("%d buckets kept after two idle minutes, want 1", n)
	}
}

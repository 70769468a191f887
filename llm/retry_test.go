package llm_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/llm/llmtest"
)

// Each fault, scripted ahead of a good answer, is retried (waiting what the
// server asked, else the backoff) or ends the call, as a caller would see it.
// The client's backoff is attempt×1s and it makes at most 3 attempts.
func TestFaults(t *testing.T) {
	notFound := llmtest.Status(http.StatusNotFound, "invalid_request_error", "model_not_found", "The model `gpt-9` does not exist")
	badRequest := llmtest.Status(http.StatusBadRequest, "invalid_request_error", "context_length_exceeded", "too long")
	shouldNot := llmtest.ServerError(http.StatusInternalServerError)
	shouldNot.Fault.Header = http.Header{"X-Should-Retry": {"false"}}
	for _, tc := range []struct {
		name   string
		script []llmtest.Reply
		kind   error           // nil: the call succeeds after the script
		calls  int             // requests the fake received
		sleeps []time.Duration // waits the client asked for
		status int             // Error.StatusCode when it fails
	}{
		{name: "429 with Retry-After", script: []llmtest.Reply{llmtest.RateLimited(7 * time.Second)},
			calls: 2, sleeps: []time.Duration{7 * time.Second}},
		{name: "429 with retry-after-ms", script: []llmtest.Reply{llmtest.RateLimitedMs(1500 * time.Millisecond)},
			calls: 2, sleeps: []time.Duration{1500 * time.Millisecond}},
		{name: "429 without header backs off", script: []llmtest.Reply{llmtest.RateLimited(0)},
			calls: 2, sleeps: []time.Duration{time.Second}},
		{name: "500 then 503", script: []llmtest.Reply{llmtest.ServerError(500), llmtest.ServerError(503)},
			calls: 3, sleeps: []time.Duration{time.Second, 2 * time.Second}},
		{name: "502", script: []llmtest.Reply{llmtest.ServerError(502)},
			calls: 2, sleeps: []time.Duration{time.Second}},
		{name: "dropped connection", script: []llmtest.Reply{llmtest.Drop()},
			calls: 2, sleeps: []time.Duration{time.Second}},
		{name: "broken body is retried at once", script: []llmtest.Reply{llmtest.Broken()},
			calls: 2},
		{name: "truncated answer is retried", script: []llmtest.Reply{{Content: `{"a":`, FinishReason: "length"}},
			calls: 2},
		{name: "empty answer is retried", script: []llmtest.Reply{{Content: ""}},
			calls: 2},

		{name: "503 exhausts", script: []llmtest.Reply{llmtest.ServerError(503), llmtest.ServerError(503), llmtest.ServerError(503)},
			kind: llm.ErrUnavailable, calls: 3, sleeps: []time.Duration{time.Second, 2 * time.Second}, status: 503},
		{name: "429 exhausts", script: []llmtest.Reply{llmtest.RateLimited(2 * time.Second), llmtest.RateLimited(2 * time.Second), llmtest.RateLimited(2 * time.Second)},
			kind: llm.ErrUnavailable, calls: 3, sleeps: []time.Duration{2 * time.Second, 2 * time.Second}, status: 429},
		{name: "drops exhaust", script: []llmtest.Reply{llmtest.Drop(), llmtest.Drop(), llmtest.Drop()},
			kind: llm.ErrUnavailable, calls: 3, sleeps: []time.Duration{time.Second, 2 * time.Second}},
		{name: "broken bodies exhaust", script: []llmtest.Reply{llmtest.Broken(), llmtest.Broken(), llmtest.Broken()},
			kind: llm.ErrInvalidOutput, calls: 3, status: 200},
		{name: "Retry-After beyond MaxWait gives up at once", script: []llmtest.Reply{llmtest.RateLimited(2 * time.Minute)},
			kind: llm.ErrUnavailable, calls: 1, status: 429},

		{name: "401 is permanent", script: []llmtest.Reply{llmtest.Status(401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided")},
			kind: llm.ErrPermanent, calls: 1, status: 401},
		{name: "400 is permanent", script: []llmtest.Reply{badRequest}, kind: llm.ErrPermanent, calls: 1, status: 400},
		{name: "404 model not found is permanent", script: []llmtest.Reply{notFound}, kind: llm.ErrPermanent, calls: 1, status: 404},
		{name: "429 insufficient_quota is permanent", script: []llmtest.Reply{llmtest.QuotaExceeded()}, kind: llm.ErrPermanent, calls: 1, status: 429},
		{name: "x-should-retry false is obeyed", script: []llmtest.Reply{shouldNot}, kind: llm.ErrPermanent, calls: 1, status: 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, srv, sl := setup(t)
			srv.Enqueue(tc.script...)
			resp, err := c.Complete(context.Background(), userSays("hello"))
			if tc.kind == nil {
				if err != nil {
					t.Fatalf("Complete: %v", err)
				}
				if resp.Attempts != tc.calls || resp.Content != "fake reply to: hello" {
					t.Errorf("response = %+v, want the good answer after %d attempts", resp, tc.calls)
				}
			} else {
				if !errors.Is(err, tc.kind) {
					t.Fatalf("err = %v, want %v", err, tc.kind)
				}
				var e *llm.Error
				if !errors.As(err, &e) || e.Attempts != tc.calls || e.StatusCode != tc.status {
					t.Errorf("error = %#v, want %d attempts, status %d", e, tc.calls, tc.status)
				}
			}
			if srv.Calls() != tc.calls {
				t.Errorf("fake got %d calls, want %d", srv.Calls(), tc.calls)
			}
			if got := sl.all(); !slices.Equal(got, tc.sleeps) {
				t.Errorf("sleeps = %v, want %v", got, tc.sleeps)
			}
		})
	}
}

// A server that waits longer than MaxWait is not waited for: the error says
// how long it asked, so a job queue can come back then.
func TestRetryAfterTooLongIsReported(t *testing.T) {
	c, srv, _ := setup(t)
	srv.Enqueue(llmtest.RateLimited(2 * time.Minute))
	_, err := c.Complete(context.Background(), userSays("hi"))
	var e *llm.Error
	if !errors.As(err, &e) || e.RetryAfter != 2*time.Minute {
		t.Fatalf("err = %v, want RetryAfter 2m", err)
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c, srv, sl := setup(t, func(cfg *llm.Config) { cfg.Clock = clock.NewFake(now) })
	r := llmtest.RateLimited(0)
	r.Fault.Header = http.Header{"Retry-After": {now.Add(12 * time.Second).Format(http.TimeFormat)}}
	srv.Enqueue(r)
	if _, err := c.Complete(context.Background(), userSays("hi")); err != nil {
		t.Fatal(err)
	}
	if got := sl.all(); !slices.Equal(got, []time.Duration{12 * time.Second}) {
		t.Errorf("sleeps = %v, want [12s]", got)
	}
}

// The fake's own key check: a wrong key gets a real 401, tried once.
func TestWrongKeyIsPermanent(t *testing.T) {
	c, srv, sl := setup(t, func(cfg *llm.Config) { cfg.APIKey = "sk-wrong" })
	_, err := c.Complete(context.Background(), userSays("hi"))
	if !errors.Is(err, llm.ErrPermanent) {
		t.Fatalf("err = %v, want ErrPermanent", err)
	}
	if srv.Calls() != 1 || len(sl.all()) != 0 {
		t.Errorf("calls = %d, sleeps = %v; want one call and no wait", srv.Calls(), sl.all())
	}
}

// Attempts that outlast Config.Timeout are cut off and retried. The fake
// holds them until the client hangs up, so the test waits only the (short)
// timeout itself.
func TestTimeout(t *testing.T) {
	short := func(cfg *llm.Config) { cfg.Timeout = 20 * time.Millisecond }

	t.Run("then succeeds", func(t *testing.T) {
		c, srv, sl := setup(t, short)
		srv.Enqueue(llmtest.Slow())
		resp, err := c.Complete(context.Background(), userSays("hi"))
		if err != nil {
			t.Fatalf("Complete: %v", err)
		}
		if resp.Attempts != 2 || !slices.Equal(sl.all(), []time.Duration{time.Second}) {
			t.Errorf("attempts = %d, sleeps = %v", resp.Attempts, sl.all())
		}
	})

	t.Run("exhausts", func(t *testing.T) {
		c, srv, _ := setup(t, short)
		srv.Enqueue(llmtest.Slow(), llmtest.Slow(), llmtest.Slow())
		_, err := c.Complete(context.Background(), userSays("hi"))
		if !errors.Is(err, llm.ErrUnavailable) || !errors.Is(err, llm.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrUnavailable caused by ErrTimeout", err)
		}
		if srv.Calls() != 3 {
			t.Errorf("calls = %d, want 3", srv.Calls())
		}
	})

	t.Run("released in time", func(t *testing.T) {
		c, srv, _ := setup(t)
		release := make(chan struct{})
		close(release)
		srv.Enqueue(llmtest.SlowUntil(release))
		resp, err := c.Complete(context.Background(), userSays("hi"))
		if err != nil || resp.Attempts != 1 {
			t.Fatalf("resp = %+v, err = %v; want an answer on the first attempt", resp, err)
		}
	})
}

// When the caller's own context ends, the call stops at once with the
// caller's error, not a classified one, and nothing is retried.
func TestCallerContextEnds(t *testing.T) {
	c, srv, _ := setup(t)
	srv.Enqueue(llmtest.Slow())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.Complete(ctx, userSays("hi"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the caller's deadline", err)
	}
	var e *llm.Error
	if errors.As(err, &e) {
		t.Errorf("err = %v classified as %v; the caller gave up, not the server", err, e.Kind)
	}
	if srv.Calls() != 1 {
		t.Errorf("calls = %d, want 1", srv.Calls())
	}
}

// A cancelled wait between attempts ends the call too.
func TestCancelledWhileWaiting(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c, srv, _ := setup(t, func(cfg *llm.Config) {
		cfg.Sleep = func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() }
	})
	srv.Enqueue(llmtest.ServerError(503))
	_, err := c.Complete(ctx, userSays("hi"))
	if !errors.Is(err, context.Canceled) || srv.Calls() != 1 {
		t.Fatalf("err = %v after %d calls, want context.Canceled after 1", err, srv.Calls())
	}
}

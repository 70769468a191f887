package llm_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/llm/llmtest"
)

const (
	testKey   = "sk-test-key"
	testModel = "test-model"
)

// sleeps records the waits the client asked for instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// setup starts a fake that wants testKey and a client pointed at it whose
// backoff is attempt×1s and whose sleeps are only recorded.
func setup(t *testing.T, edit ...func(*llm.Config)) (*llm.Client, *llmtest.Server, *sleeps) {
	t.Helper()
	srv := llmtest.Start(llmtest.Options{APIKey: testKey})
	t.Cleanup(srv.Close)
	sl := &sleeps{}
	cfg := llm.Config{
		BaseURL:     srv.URL,
		APIKey:      testKey,
		Model:       testModel,
		Timeout:     10 * time.Second,
		MaxAttempts: 3,
		Backoff:     func(n int) time.Duration { return time.Duration(n) * time.Second },
		Sleep:       sl.sleep,
	}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := llm.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, srv, sl
}

func userSays(text string) llm.Request {
	return llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: text}}}
}

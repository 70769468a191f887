package llm_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/llm/llmtest"
)

// meter records what the client tells it and refuses tenants in refuse.
type meter struct {
	mu      sync.Mutex
	refuse  map[string]bool
	asked   []string
	charged []string // "tenant prompt completion"
}

func (m *meter) Allow(_ context.Context, tenantID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.asked = append(m.asked, tenantID)
	if m.refuse[tenantID] {
		return fmt.Errorf("tenant %s: %w", tenantID, llm.ErrBudgetReached)
	}
	return nil
}

func (m *meter) Record(_ context.Context, tenantID string, u llm.Usage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.charged = append(m.charged, fmt.Sprintf("%s %d %d", tenantID, u.PromptTokens, u.CompletionTokens))
}

// The client charges the tenant in the context the server's usage numbers
// of every answered request — an unusable answer that was retried too —
// and asks the meter before the call.
func TestMeterChargesEveryAnsweredRequest(t *testing.T) {
	m := &meter{}
	c, srv, _ := setup(t, func(cfg *llm.Config) { cfg.Meter = m })
	n := 0
	srv.SetResponder(func(llmtest.Request) llmtest.Reply {
		n++
		if n == 1 {
			return llmtest.Reply{Content: "cut sho", FinishReason: "length"} // unusable: retried
		}
		return llmtest.Text("A full answer.")
	})
	ctx := parley.WithTenant(context.Background(), "tenant-a")
	resp, err := c.Complete(ctx, userSays("hello there"))
	if err != nil {
		t.Fatal(err)
	}
	// llmtest reports prompt len/4+1 and completion len/4+1 per request.
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	p := int64(len(reqs[0].Prompt())/4 + 1)
	want := []string{fmt.Sprintf("tenant-a %d %d", p, len("cut sho")/4+1), fmt.Sprintf("tenant-a %d %d", p, len("A full answer.")/4+1)}
	if fmt.Sprint(m.charged) != fmt.Sprint(want) || fmt.Sprint(m.asked) != "[tenant-a]" {
		t.Fatalf("charged %v asked %v, want %v asked once for tenant-a", m.charged, m.asked, want)
	}
	if resp.Usage.PromptTokens != p {
		t.Errorf("response usage %+v", resp.Usage)
	}

	// Without a tenant the meter is told "" (it charges the operator).
	if _, err := c.Complete(context.Background(), userSays("hi")); err != nil {
		t.Fatal(err)
	}
	if last := m.charged[len(m.charged)-1]; last[0] != ' ' {
		t.Errorf("a call without a tenant was charged as %q", last)
	}
}

// A refused call sends nothing and says why: ErrBudgetReached, of kind
// ErrPermanent so that callers unaware of budgets take their no-LLM path.
func TestMeterRefusalSendsNothing(t *testing.T) {
	m := &meter{refuse: map[string]bool{"tenant-b": true}}
	c, srv, _ := setup(t, func(cfg *llm.Config) { cfg.Meter = m })
	_, err := c.Complete(parley.WithTenant(context.Background(), "tenant-b"), userSays("hello"))
	if !errors.Is(err, llm.ErrBudgetReached) || !errors.Is(err, llm.ErrPermanent) {
		t.Fatalf("err = %v, want ErrBudgetReached of kind ErrPermanent", err)
	}
	if srv.Calls() != 0 || len(m.charged) != 0 {
		t.Fatalf("the server got %d requests, the meter %v; want none", srv.Calls(), m.charged)
	}
	// Another tenant is not affected.
	if _, err := c.Complete(parley.WithTenant(context.Background(), "tenant-a"), userSays("hello")); err != nil || srv.Calls() != 1 {
		t.Fatalf("tenant-a: %v, %d calls", err, srv.Calls())
	}
}

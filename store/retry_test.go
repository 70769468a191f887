package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// Two transactions that update the same two rows in opposite orders
// deadlock on PostgreSQL (SQLite has one writer, so it cannot); InTxRetrying
// runs the one PostgreSQL aborts again, and both writes land, one after
// the other.
func TestInTxRetryingSurvivesADeadlock(t *testing.T) {
	t.Parallel()
	s := storetest.Open(t, store.Postgres, nil)
	ctx := context.Background()
	a, b := newTenant(t, s, "A"), newTenant(t, s, "B")
	var holding sync.WaitGroup
	holding.Add(2)
	var runs atomic.Int32
	write := func(first, second parley.Tenant, name string) error {
		var once sync.Once
		return s.InTxRetrying(ctx, 3, func(q *store.Queries) error {
			runs.Add(1)
			first.Name, second.Name = name, name
			if err := q.UpdateTenant(ctx, first); err != nil {
				return err
			}
			once.Do(func() { holding.Done(); holding.Wait() }) // both hold their first row
			return q.UpdateTenant(ctx, second)
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- write(a, b, "one") }()
	go func() { errs <- write(b, a, "two") }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("a write failed: %v", err)
		}
	}
	ga, _ := s.GetTenant(ctx, a.ID)
	gb, _ := s.GetTenant(ctx, b.ID)
	if ga.Name != gb.Name {
		t.Fatalf("the two transactions interleaved: %q and %q", ga.Name, gb.Name)
	}
	// Each write runs once, and the deadlock's victim again (under load
	// its second run may meet the winner again, and run a third time).
	if n := runs.Load(); n < 3 {
		t.Fatalf("%d runs, want at least 3 (the deadlock's victim run again)", n)
	}
}

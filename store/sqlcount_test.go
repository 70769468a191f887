package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// A known sequence of statements counts exactly, on both engines: plain
// and prepared statements in a transaction, its commit, a rolled-back
// transaction and a statement outside any transaction.
func TestStatsCountStatementsAndCommits(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		before := s.Stats()
		err := s.InTx(ctx, func(q *store.Queries) error {
			tx := q.Tx()
			if _, err := tx.ExecContext(ctx, "CREATE TABLE count_probe (n INTEGER NOT NULL)"); err != nil { // 1
				return err
			}
			for i := 0; i < 2; i++ { // 2, 3
				if _, err := tx.ExecContext(ctx, "INSERT INTO count_probe (n) VALUES ($1)", i); err != nil {
					return err
				}
			}
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM count_probe").Scan(&n); err != nil { // 4
				return err
			}
			if n != 2 {
				t.Errorf("count = %d, want 2", n)
			}
			st, err := tx.PrepareContext(ctx, "INSERT INTO count_probe (n) VALUES ($1)")
			if err != nil {
				return err
			}
			defer st.Close()
			for i := 0; i < 2; i++ { // 5, 6
				if _, err := st.ExecContext(ctx, 10+i); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got := s.Stats()
		if d := (store.Stats{Statements: got.Statements - before.Statements, Commits: got.Commits - before.Commits, Rollbacks: got.Rollbacks - before.Rollbacks}); d != (store.Stats{Statements: 6, Commits: 1}) {
			t.Fatalf("after the transaction: %+v, want 6 statements, 1 commit, 0 rollbacks", d)
		}

		// A transaction that fails rolls back: its statement counts, no commit.
		before = got
		boom := errors.New("boom")
		err = s.InTx(ctx, func(q *store.Queries) error {
			if _, err := q.Tx().ExecContext(ctx, "INSERT INTO count_probe (n) VALUES (99)"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v, want boom", err)
		}
		// Outside a transaction: a statement, and no commit counted.
		var n int
		if err := s.DB().QueryRowContext(ctx, "SELECT count(*) FROM count_probe").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 4 {
			t.Fatalf("%d rows, want 4 (the rolled-back insert gone)", n)
		}
		got = s.Stats()
		if d := (store.Stats{Statements: got.Statements - before.Statements, Commits: got.Commits - before.Commits, Rollbacks: got.Rollbacks - before.Rollbacks}); d != (store.Stats{Statements: 2, Rollbacks: 1}) {
			t.Fatalf("after the rollback and the plain query: %+v, want 2 statements, 0 commits, 1 rollback", d)
		}
	})
}

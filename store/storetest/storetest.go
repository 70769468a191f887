// Package storetest opens fresh, migrated databases for tests: a SQLite file
// in the test's temp dir, and a PostgreSQL database of its own on the server
// named by PARLEY_TEST_DATABASE_URL, both copied from a template migrated
// once. Every test gets a database no other test touches, so tests run in
// parallel.
package storetest

import (
	"context"
	"database/sql"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/store"
)

// DefaultPostgresURL is used when PARLEY_TEST_DATABASE_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL is the server tests create their schemas on.
func PostgresURL() string {
	if u := os.Getenv("PARLEY_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

var (
	pgOnce sync.Once
	pgErr  error
)

// RequirePostgres skips the test when PostgreSQL is unreachable, unless CI
// is set, where a missing database is a failure.
func RequirePostgres(t testing.TB) {
	t.Helper()
	pgOnce.Do(func() {
		db, err := sql.Open("pgx", PostgresURL())
		if err != nil {
			pgErr = err
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		pgErr = db.PingContext(ctx)
	})
	if pgErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL at %s is unreachable and CI is set: %v", PostgresURL(), pgErr)
		}
		t.Skipf("PostgreSQL unreachable (%v): set PARLEY_TEST_DATABASE_URL or start it; skipping", pgErr)
	}
}

// Engines lists the engines every store test runs on.
func Engines() []store.Engine { return []store.Engine{store.SQLite, store.Postgres} }

// Run runs fn as a subtest on each engine with a fresh store.
func Run(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	EachEngine(t, func(t *testing.T, e store.Engine) { fn(t, Open(t, e, nil)) })
}

// EachEngine runs fn as a subtest per engine, the two in parallel: each
// test makes a database of its own, so nothing is shared.
func EachEngine(t *testing.T, fn func(t *testing.T, e store.Engine)) {
	t.Helper()
	for _, e := range Engines() {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			fn(t, e)
		})
	}
}

// Tenant creates a tenant and an API key for it.
func Tenant(t testing.TB, st *store.Store, name string) (parley.Tenant, string) {
	t.Helper()
	ctx := context.Background()
	tn, err := st.CreateTenant(ctx, parley.Tenant{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := st.CreateAPIKey(ctx, tn.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	return tn, key
}

// Open returns a fresh, migrated store on the engine, closed (and on
// PostgreSQL dropped) when the test ends. clk may be nil for the real clock.
func Open(t testing.TB, engine store.Engine, clk clock.Clock) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), DSN(t, engine), store.Options{Clock: clk})
	if err != nil {
		t.Fatalf("open %s store: %v", engine, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// DSN returns the URL of a new database on the engine, already migrated, for
// tests that start Parley or open a store themselves. It is removed when the
// test ends.
func DSN(t testing.TB, engine store.Engine) string {
	t.Helper()
	return newDatabase(t, engine, true)
}

// EmptyDSN is DSN without the schema, for tests of migrating itself.
func EmptyDSN(t testing.TB, engine store.Engine) string {
	t.Helper()
	return newDatabase(t, engine, false)
}

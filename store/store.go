// Package store keeps Parley's data in SQLite (embedded, the default) or
// PostgreSQL, behind one set of queries. Both engines go through
// database/sql, so a state change and the River job it triggers can share
// one *sql.Tx on either engine.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/parleyhq/parley/clock"
)

// Engine names the database engine behind a store.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Store is the database. Its embedded *Queries run outside any transaction;
// use InTx to group writes with the jobs they trigger.
type Store struct {
	*Queries
	db     *sql.DB
	engine Engine
	// readDB and read are SQLite's read-only pool (see Read); nil on PostgreSQL.
	readDB *sql.DB
	read   *Queries
	// counts: statements and commits through both pools (see Stats).
	counts *sqlCounts
}

// dbtx is what both *sql.DB and *sql.Tx offer.
type dbtx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Queries holds every query, bound to the database or to one transaction.
type Queries struct {
	q      dbtx
	tx     *sql.Tx // nil outside a transaction
	engine Engine
	clock  clock.Clock
	// after holds what runs once the transaction has committed (AfterCommit).
	after *[]func(context.Context)
	// outbox: AppendEvent also queues the event for publishing (Options.EventOutbox).
	outbox bool
	// hooks says whether AppendEvent must look for webhook subscriptions
	// (shared by every Queries of the store; see hookFlag).
	hooks *hookFlag
	// events holds the events appended in the transaction, written
	// together before it commits (nil outside a transaction).
	events *[]pendingEvent
}

// AfterCommit registers fn to run once q's transaction has committed, in
// the goroutine that called InTx, in registration order; a rollback drops
// it. Work that must wait for the commit (e.g. the next step of a flow that
// the transaction also left a job for) goes here. Outside a transaction fn
// runs at once.
func (q *Queries) AfterCommit(ctx context.Context, fn func(context.Context)) {
	if q.after == nil {
		fn(ctx)
		return
	}
	*q.after = append(*q.after, fn)
}

// Tx returns the transaction these queries run in (nil outside one), for
// inserting River jobs in the same commit.
func (q *Queries) Tx() *sql.Tx { return q.tx }

// Engine tells which database engine the queries run on.
func (q *Queries) Engine() Engine { return q.engine }

// Options tune Open.
type Options struct {
	Clock clock.Clock // defaults to clock.Real
	// MaxConns caps PostgreSQL connections (default 20); SQLite uses one.
	MaxConns int
	// EventOutbox makes every event appended to a conversation's log also
	// queue itself in event_outbox, in the same transaction, for a publisher.
	EventOutbox bool
}

// Open connects to the database named by dsn: a postgres:// or
// postgresql:// URL, or a SQLite file path (optionally "sqlite://path" or
// "file:path"). It does not migrate; call Migrate.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	engine, driverName, source, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	var conn driver.Connector
	if engine == SQLite {
		conn, err = newSQLiteConnector(source)
	} else {
		conn, err = stdlib.GetDefaultDriver().(driver.DriverContext).OpenConnector(source)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database via %s: %w", engine, driverName, err)
	}
	counts := &sqlCounts{}
	db := sql.OpenDB(&countingConnector{base: conn, n: counts})
	if engine == SQLite {
		// SQLite allows one writer at a time; one connection avoids
		// SQLITE_BUSY between River's goroutines and ours (riversqlite's advice).
		db.SetMaxOpenConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	} else {
		n := opts.MaxConns
		if n <= 0 {
			n = 20
		}
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s database: %w", engine, err)
	}
	s := &Store{db: db, engine: engine, counts: counts}
	s.Queries = &Queries{q: db, engine: engine, clock: opts.Clock, outbox: opts.EventOutbox, hooks: newHookFlag(engine)}
	if engine == SQLite {
		if s.readDB, err = openReadPool(source, counts); err != nil {
			db.Close()
			return nil, err
		}
		s.read = &Queries{q: s.readDB, engine: engine, clock: opts.Clock}
	}
	return s, nil
}

// parseDSN tells the engine from the DSN and returns what database/sql needs.
func parseDSN(dsn string) (Engine, string, string, error) {
	if dsn == "" {
		dsn = "parley.db"
	}
	lower := strings.ToLower(dsn)
	if strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://") {
		if _, err := url.Parse(dsn); err != nil {
			return "", "", "", fmt.Errorf("invalid PostgreSQL URL: %w", err)
		}
		return Postgres, "pgx", dsn, nil
	}
	path := dsn
	for _, p := range []string{"sqlite://", "sqlite3://", "file:"} {
		if strings.HasPrefix(lower, p) {
			path = dsn[len(p):]
			break
		}
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i] // our own pragmas below are the ones that count
	}
	if path == "" {
		return "", "", "", errors.New("empty SQLite path")
	}
	if strings.Contains(lower, "://") && !strings.HasPrefix(lower, "sqlite") {
		return "", "", "", fmt.Errorf("unsupported database URL scheme in %q (use postgres:// or a SQLite file path)", redactDSN(dsn))
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	return SQLite, "sqlite", "file:" + path + "?" + q.Encode(), nil
}

// redactDSN hides a password in a database URL for messages.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	return u.Redacted()
}

// Engine tells which database engine the store runs on.
func (s *Store) Engine() Engine { return s.engine }

// DB returns the underlying pool.
func (s *Store) DB() *sql.DB { return s.db }

// Clock returns the store's clock.
func (s *Store) Clock() clock.Clock { return s.clock }

// Close closes the pool.
func (s *Store) Close() error {
	if s.readDB != nil {
		s.readDB.Close()
	}
	return s.db.Close()
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// RiverDriver returns the River driver for this store's engine, over the
// same pool, so jobs can be inserted in the store's transactions.
func (s *Store) RiverDriver() riverdriver.Driver[*sql.Tx] { return riverDriver(s.engine, s.db) }

func riverDriver(engine Engine, db *sql.DB) riverdriver.Driver[*sql.Tx] {
	if engine == SQLite {
		return riversqlite.New(db)
	}
	return riverdatabasesql.New(db)
}

// InTxRetrying is InTx run again, up to attempts times in all, while
// PostgreSQL aborts the transaction to break a deadlock or a serialization
// conflict. Only for a fn that writes through q alone, so that running it
// again from the start is the same as running it once.
//
// Each run again waits a few random milliseconds first: run at once, the
// victim can take its first row back before the winner has it, and the two
// deadlock again.
func (s *Store) InTxRetrying(ctx context.Context, attempts int, fn func(q *Queries) error) error {
	for i := 1; ; i++ {
		err := s.InTx(ctx, fn)
		if err == nil || i >= attempts || !isTxConflict(err) || ctx.Err() != nil {
			return err
		}
		pause := time.NewTimer(time.Duration(i) * (5*time.Millisecond + rand.N(20*time.Millisecond)))
		select {
		case <-ctx.Done():
			pause.Stop()
			return err
		case <-pause.C:
		}
	}
}

// isTxConflict reports a transaction PostgreSQL aborted for another's
// sake: a deadlock victim (40P01) or a serialization failure (40001).
func isTxConflict(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// InTx runs fn in one transaction: it commits if fn returns nil and rolls
// back otherwise (and on panic).
func (s *Store) InTx(ctx context.Context, fn func(q *Queries) error) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var after []func(context.Context)
	var events []pendingEvent
	q := &Queries{q: tx, tx: tx, engine: s.engine, clock: s.clock, after: &after, outbox: s.outbox, hooks: s.hooks, events: &events}
	if err = fn(q); err != nil {
		return err
	}
	if err = q.flushEvents(ctx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, f := range after {
		f(ctx)
	}
	return nil
}

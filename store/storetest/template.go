package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/parleyhq/parley/store"
)

// Migrating a database takes about a second on PostgreSQL (most of it DDL)
// and a tenth of one on SQLite, and almost every test wants one. So the
// schema is built once, into a template named by store.SchemaFingerprint,
// and each test gets a copy: a file copy on SQLite, CREATE DATABASE …
// TEMPLATE on PostgreSQL (a few hundredths of a second).

func newDatabase(t testing.TB, engine store.Engine, migrated bool) string {
	t.Helper()
	if engine == store.SQLite {
		path := filepath.Join(t.TempDir(), "parley.db")
		if migrated {
			tmpl, err := sqliteTemplate()
			if err != nil {
				t.Fatalf("sqlite template: %v", err)
			}
			if err := copyFile(tmpl, path); err != nil {
				t.Fatalf("copy sqlite template: %v", err)
			}
		}
		return path
	}
	RequirePostgres(t)
	admin, err := pgAdmin()
	if err != nil {
		t.Fatalf("postgres admin connection: %v", err)
	}
	if !admin.createDB {
		return schemaDSN(t, admin.db, migrated)
	}
	name := fmt.Sprintf("%s%d_%s", testDBPrefix, admin.owner, randomHex())
	create := `CREATE DATABASE ` + name
	if migrated {
		tmpl, err := postgresTemplate(admin.db)
		if err != nil {
			t.Fatalf("postgres template: %v", err)
		}
		create += ` TEMPLATE ` + tmpl
	}
	if _, err := admin.db.Exec(create); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() { dropLater(admin.db, name) })
	return postgresURL(name, "")
}

// testDBPrefix starts every test database's name, followed by its test
// binary's owner key (pgAdmin).
const testDBPrefix = "parley_t_"

// ownerLock is the advisory lock class under which each test binary holds
// its owner key for as long as it runs: a database whose owner key nobody
// holds was left by a binary that has exited, and may be dropped.
const ownerLock = 7320003

// Dropping a database waits for a checkpoint: up to a second or two while
// other tests write. Under Main the drops run in the background, beside the
// tests, and what is left when the binary exits is dropped by the next test
// binary to start (sweepLeftovers); a package without Main drops each
// database as its test ends.
var drops struct {
	mu      sync.Mutex
	async   bool
	started bool
	queue   chan string
}

// Main runs a package's tests, dropping the PostgreSQL databases they made
// in the background. Call it from TestMain: os.Exit(storetest.Main(m)).
func Main(m *testing.M) int {
	drops.mu.Lock()
	drops.async = true
	drops.mu.Unlock()
	return m.Run()
}

// AtLeastParallel lets n parallel tests run at once, unless the command
// line chose (-parallel). Call it from TestMain, before Main, in a package
// whose tests mostly wait (on processes, on brokers) rather than compute.
func AtLeastParallel(n int) {
	if !flag.Parsed() {
		flag.Parse()
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if f := flag.Lookup("test.parallel"); !set && f != nil {
		if cur, err := strconv.Atoi(f.Value.String()); err == nil && cur < n {
			_ = f.Value.Set(strconv.Itoa(n))
		}
	}
}

// dropLater drops a test's database: in the background under Main, now
// otherwise.
func dropLater(db *sql.DB, name string) {
	drops.mu.Lock()
	async := drops.async
	if async {
		if !drops.started {
			drops.started = true
			drops.queue = make(chan string, 4096)
			go func() {
				for n := range drops.queue {
					dropDatabase(db, n)
				}
			}()
		}
		select {
		case drops.queue <- name:
		default: // a full queue is left to the next binary's sweep
		}
	}
	drops.mu.Unlock()
	if !async {
		dropDatabase(db, name)
	}
}

func dropDatabase(db *sql.DB, name string) {
	// FORCE ends connections a test left open (a killed child process).
	_, _ = db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
}

// sweepLeftovers drops, in the background, the test databases whose test
// binary has exited (nobody holds their owner key).
func sweepLeftovers(db *sql.DB) error {
	left, err := databaseNames(context.Background(), db, `SELECT d.datname FROM pg_database d
		WHERE d.datname LIKE 'parley\_t\_%' AND NOT EXISTS (
			SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid = $1
			AND l.objsubid = 2 AND l.objid::text = split_part(d.datname, '_', 3))`, ownerLock)
	if err != nil {
		return err
	}
	for _, n := range left {
		dropLater(db, n)
	}
	return nil
}

// databaseNames runs a query for one text column and returns its values.
func databaseNames(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

var sqliteTmpl struct {
	once sync.Once
	path string
	err  error
}

// sqliteTemplate returns the path of a migrated SQLite file, built once per
// schema version in the user's cache directory and shared by test binaries.
func sqliteTemplate() (string, error) {
	sqliteTmpl.once.Do(func() {
		sqliteTmpl.path, sqliteTmpl.err = buildSQLiteTemplate()
	})
	return sqliteTmpl.path, sqliteTmpl.err
}

func buildSQLiteTemplate() (string, error) {
	fp, err := store.SchemaFingerprint(store.SQLite)
	if err != nil {
		return "", err
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "parley-storetest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "schema-"+fp+".db")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	// Built aside and renamed into place, so another binary never copies a
	// half-built file.
	tmp := filepath.Join(dir, "building-"+randomHex()+".db")
	defer os.Remove(tmp)
	if err := migrate(tmp); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

type admin struct {
	db       *sql.DB
	createDB bool      // the role may create databases; if not, a schema per test
	owner    int32     // this binary's owner key, held under ownerLock
	holder   *sql.Conn // the session holding it, never returned to the pool
}

var pgAdm struct {
	once sync.Once
	admin
	err error
}

// pgAdmin is the binary's connection to the server's own database, open for
// as long as the binary runs. With it the binary holds its owner key.
func pgAdmin() (admin, error) {
	pgAdm.once.Do(func() { pgAdm.admin, pgAdm.err = openAdmin() })
	return pgAdm.admin, pgAdm.err
}

func openAdmin() (admin, error) {
	a := admin{owner: mrand.Int32N(1 << 30)}
	var err error
	if a.db, err = sql.Open("pgx", PostgresURL()); err != nil {
		return a, err
	}
	ctx := context.Background()
	if err := a.db.QueryRowContext(ctx, `SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&a.createDB); err != nil || !a.createDB {
		return a, err
	}
	if a.holder, err = a.db.Conn(ctx); err != nil {
		return a, err
	}
	if _, err := a.holder.ExecContext(ctx, `SELECT pg_advisory_lock($1, $2)`, ownerLock, a.owner); err != nil {
		return a, err
	}
	return a, sweepLeftovers(a.db)
}

var pgTmpl struct {
	once sync.Once
	name string
	err  error
}

// postgresTemplate returns the name of the migrated template database for
// this schema version, building it if no test binary has yet.
func postgresTemplate(db *sql.DB) (string, error) {
	pgTmpl.once.Do(func() { pgTmpl.name, pgTmpl.err = buildPostgresTemplate(db) })
	return pgTmpl.name, pgTmpl.err
}

func buildPostgresTemplate(db *sql.DB) (string, error) {
	fp, err := store.SchemaFingerprint(store.Postgres)
	if err != nil {
		return "", err
	}
	name := "parley_tmpl_" + fp
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	// The test binaries of one `go test ./...` start together: one builds,
	// the others wait here and then find it built.
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7320002)`); err != nil {
		return "", err
	}
	defer conn.ExecContext(ctx, `SELECT pg_advisory_unlock(7320002)`)
	var exists bool
	if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	// A build interrupted half-way is left under the building name, never
	// under the template's.
	building := name + "_building"
	for _, q := range []string{
		`DROP DATABASE IF EXISTS ` + building + ` WITH (FORCE)`,
		`CREATE DATABASE ` + building,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return "", err
		}
	}
	if err := migrate(postgresURL(building, "")); err != nil {
		return "", err
	}
	// Templates of older schema versions go; nobody may connect to the new
	// one, so copying it never finds a session in the way.
	stale, err := databaseNames(ctx, conn, `SELECT datname FROM pg_database WHERE datname LIKE 'parley\_tmpl\_%' AND datname <> $1`, building)
	if err != nil {
		return "", err
	}
	for _, n := range stale {
		if _, err := conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+n+` WITH (FORCE)`); err != nil {
			return "", err
		}
	}
	for _, q := range []string{
		`ALTER DATABASE ` + building + ` RENAME TO ` + name,
		`ALTER DATABASE ` + name + ` WITH ALLOW_CONNECTIONS false`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return "", err
		}
	}
	return name, nil
}

// schemaDSN is the way for a role that may not create databases: a schema
// of its own, migrated by this test (about a second on PostgreSQL).
func schemaDSN(t testing.TB, db *sql.DB, migrated bool) string {
	t.Helper()
	schema := "t_" + randomHex()
	if _, err := db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() { _, _ = db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	dsn := postgresURL("", schema)
	if migrated {
		if err := migrate(dsn); err != nil {
			t.Fatalf("migrate test schema: %v", err)
		}
	}
	return dsn
}

// postgresURL is PostgresURL pointed at another database or schema.
func postgresURL(database, schema string) string {
	u, err := url.Parse(PostgresURL())
	if err != nil {
		panic(fmt.Sprintf("PARLEY_TEST_DATABASE_URL: %v", err))
	}
	if database != "" {
		u.Path = "/" + database
	}
	if schema != "" {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func migrate(dsn string) error {
	ctx := context.Background()
	s, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		return err
	}
	_, err = s.Migrate(ctx)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return err
}

func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

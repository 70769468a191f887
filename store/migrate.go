package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/riverqueue/river/rivermigrate"
)

// Migrations are numbered files in migrations/. NNNN_name.sql serves both
// engines; NNNN_name.sqlite.sql and NNNN_name.postgres.sql are the two halves
// of one version where the engines need different text (full-text search).
//
//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrationsFor lists the engine's migrations in version order.
func migrationsFor(engine Engine) ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]migration{}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".sql")
		if base, eng, ok := strings.Cut(name, "."); ok {
			if Engine(eng) != engine {
				continue
			}
			name = base
		}
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %s: bad version", e.Name())
		}
		body, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		if prev, dup := byVersion[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev.name, name, v)
		}
		byVersion[v] = migration{version: v, name: name, sql: string(body)}
	}
	out := make([]migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// SchemaFingerprint names the schema Migrate builds on the engine: it
// changes when any migration, Parley's or River's, does. Tests key a
// migrated template database by it.
func SchemaFingerprint(engine Engine) (string, error) {
	ms, err := migrationsFor(engine)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, m := range ms {
		fmt.Fprintf(h, "%d %s\n%s\n", m.version, m.name, m.sql)
	}
	// The driver only lends its embedded migrations here; no database is read.
	migrator, err := rivermigrate.New(riverDriver(engine, nil), nil)
	if err != nil {
		return "", fmt.Errorf("river migrator: %w", err)
	}
	for _, m := range migrator.AllVersions() {
		fmt.Fprintf(h, "river %d %s\n%s\n", m.Version, m.Name, m.SQLUp)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// Migrate brings the schema (Parley's and River's) up to date. It is safe to
// run from several processes at once: on PostgreSQL an advisory lock, one
// per schema, serializes them.
func (s *Store) Migrate(ctx context.Context) (applied []string, err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if s.engine == Postgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7320001, hashtext(current_schema()))`); err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7320001, hashtext(current_schema()))`)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS parley_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return nil, fmt.Errorf("create migrations table: %w", err)
	}
	done := map[int]bool{}
	rows, err := conn.QueryContext(ctx, `SELECT version FROM parley_migrations`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, err
		}
		done[v] = true
	}
	rows.Close()
	ms, err := migrationsFor(s.engine)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		fkOff := s.engine == SQLite && strings.HasPrefix(m.sql, fkOffMarker)
		if fkOff {
			// A table rebuild: the pragma is a no-op inside a transaction.
			if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
				return applied, fmt.Errorf("migration %s: %w", m.name, err)
			}
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return applied, err
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			tx.Rollback()
			return applied, fmt.Errorf("migration %s: %w", m.name, err)
		}
		if fkOff {
			if err := foreignKeysHold(ctx, tx); err != nil {
				tx.Rollback()
				return applied, fmt.Errorf("migration %s: %w", m.name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO parley_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.version, m.name, micros(s.clock.Now())); err != nil {
			tx.Rollback()
			return applied, err
		}
		err = tx.Commit()
		if fkOff {
			if _, ferr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`); ferr != nil && err == nil {
				err = ferr
			}
		}
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.name, err)
		}
		applied = append(applied, m.name)
	}
	if s.engine == SQLite {
		// The only connection must be free for River's migrator; PostgreSQL
		// keeps this one, and its lock, until River's tables are done too.
		conn.Close()
	}

	migrator, err := rivermigrate.New(s.RiverDriver(), nil)
	if err != nil {
		return applied, fmt.Errorf("river migrator: %w", err)
	}
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return applied, fmt.Errorf("river migrations: %w", err)
	}
	for _, v := range res.Versions {
		applied = append(applied, fmt.Sprintf("river_%03d", v.Version))
	}
	return applied, nil
}

// fkOffMarker opens a SQLite migration that rebuilds a table other tables
// reference: it runs with foreign keys off (SQLite's documented procedure),
// and is checked before it commits.
const fkOffMarker = "-- parley:foreign-keys-off"

// foreignKeysHold fails if a rebuild left a reference dangling.
func foreignKeysHold(ctx context.Context, tx interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}) error {
	rows, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		return fmt.Errorf("foreign key check failed after the rebuild")
	}
	return rows.Err()
}

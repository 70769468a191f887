package store

import (
	"database/sql"
	"fmt"
	"net/url"
	"strings"
)

// readConns is the size of SQLite's read pool. WAL lets readers run beside
// the one writer; a handful covers two cores with room for waits.
const readConns = 4

// openReadPool opens read-only connections to the SQLite file the writer's
// source names. query_only makes a stray write fail loudly instead of
// taking the write lock behind the writer's back.
func openReadPool(source string, counts *sqlCounts) (*sql.DB, error) {
	path, _, _ := strings.Cut(strings.TrimPrefix(source, "file:"), "?")
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "query_only(1)"} {
		q.Add("_pragma", p)
	}
	conn, err := newSQLiteConnector("file:" + path + "?" + q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open SQLite read pool: %w", err)
	}
	db := sql.OpenDB(&countingConnector{base: conn, n: counts})
	db.SetMaxOpenConns(readConns)
	db.SetMaxIdleConns(readConns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// Read returns queries for reads outside a transaction that may run beside
// the writes: on SQLite a pool of read-only connections (the one read-write
// connection serializes everything else, reads included); on PostgreSQL the
// store's own pool. A read sees every transaction committed before it
// starts. Writing through it fails on SQLite.
func (s *Store) Read() *Queries {
	if s.read != nil {
		return s.read
	}
	return s.Queries
}

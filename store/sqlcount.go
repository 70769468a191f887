package store

import (
	"context"
	"database/sql/driver"
	"sync/atomic"
)

// The message path is judged by how many SQL statements and commits one
// answered message costs (issue 14). countingConnector wraps the engine's
// driver.Connector under database/sql, so every user of the pool — our
// queries and River's drivers alike — is counted, at the cost of two
// atomic adds per statement.
//
// A statement is one Exec or Query handed to the driver, prepared or not
// (preparing alone is not counted); BEGIN, COMMIT and ROLLBACK are not
// statements here: commits and rollbacks have counters of their own.

// Stats are the store's counts since it was opened.
type Stats struct {
	Statements uint64 // SQL statements executed
	Commits    uint64 // transactions committed
	Rollbacks  uint64 // transactions rolled back
}

type sqlCounts struct {
	statements, commits, rollbacks atomic.Uint64
}

func (c *sqlCounts) stats() Stats {
	return Stats{Statements: c.statements.Load(), Commits: c.commits.Load(), Rollbacks: c.rollbacks.Load()}
}

// Stats returns the statements, commits and rollbacks this store (its
// read pool included) has run since Open.
func (s *Store) Stats() Stats {
	if s.counts == nil {
		return Stats{}
	}
	return s.counts.stats()
}

type countingConnector struct {
	base driver.Connector
	n    *sqlCounts
}

func (c *countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{inner: conn, n: c.n}, nil
}

func (c *countingConnector) Driver() driver.Driver { return c.base.Driver() }

// countingConn passes everything to the engine's connection. Where the
// engine lacks an optional interface it answers driver.ErrSkip (or the
// plain fallback), so database/sql behaves as it would without the wrapper.
type countingConn struct {
	inner driver.Conn
	n     *sqlCounts
}

func (c *countingConn) Prepare(query string) (driver.Stmt, error) {
	st, err := c.inner.Prepare(query)
	if err != nil {
		return nil, err
	}
	return &countingStmt{inner: st, n: c.n}, nil
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := c.inner.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.inner.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &countingStmt{inner: st, n: c.n}, nil
}

func (c *countingConn) Close() error { return c.inner.Close() }

func (c *countingConn) Begin() (driver.Tx, error) { //nolint:staticcheck // required by driver.Conn
	tx, err := c.inner.Begin() //nolint:staticcheck // the engine's fallback
	if err != nil {
		return nil, err
	}
	return &countingTx{inner: tx, n: c.n}, nil
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	b, ok := c.inner.(driver.ConnBeginTx)
	if !ok {
		return c.Begin()
	}
	tx, err := b.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &countingTx{inner: tx, n: c.n}, nil
}

func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.inner.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip // database/sql prepares, and the statement counts
	}
	res, err := e.ExecContext(ctx, query, args)
	if err != driver.ErrSkip {
		c.n.statements.Add(1)
	}
	return res, err
}

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.inner.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	rows, err := q.QueryContext(ctx, query, args)
	if err != driver.ErrSkip {
		c.n.statements.Add(1)
	}
	return rows, err
}

func (c *countingConn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *countingConn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// CheckNamedValue keeps pgx's own argument handling (it takes its types
// as they are); ErrSkip sends other engines to database/sql's default.
func (c *countingConn) CheckNamedValue(v *driver.NamedValue) error {
	if ch, ok := c.inner.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(v)
	}
	return driver.ErrSkip
}

type countingTx struct {
	inner driver.Tx
	n     *sqlCounts
}

func (t *countingTx) Commit() error {
	err := t.inner.Commit()
	if err == nil {
		t.n.commits.Add(1)
	}
	return err
}

func (t *countingTx) Rollback() error {
	t.n.rollbacks.Add(1)
	return t.inner.Rollback()
}

type countingStmt struct {
	inner driver.Stmt
	n     *sqlCounts
}

func (s *countingStmt) Close() error  { return s.inner.Close() }
func (s *countingStmt) NumInput() int { return s.inner.NumInput() }

func (s *countingStmt) Exec(args []driver.Value) (driver.Result, error) { //nolint:staticcheck // required by driver.Stmt
	s.n.statements.Add(1)
	return s.inner.Exec(args) //nolint:staticcheck // the engine's fallback
}

func (s *countingStmt) Query(args []driver.Value) (driver.Rows, error) { //nolint:staticcheck // required by driver.Stmt
	s.n.statements.Add(1)
	return s.inner.Query(args) //nolint:staticcheck // the engine's fallback
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.n.statements.Add(1)
	if e, ok := s.inner.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	vals, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	return s.inner.Exec(vals) //nolint:staticcheck // the engine's fallback
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.n.statements.Add(1)
	if q, ok := s.inner.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	vals, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	return s.inner.Query(vals) //nolint:staticcheck // the engine's fallback
}

func (s *countingStmt) CheckNamedValue(v *driver.NamedValue) error {
	if ch, ok := s.inner.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(v)
	}
	return driver.ErrSkip
}

func namedToValues(args []driver.NamedValue) ([]driver.Value, error) {
	vals := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, driver.ErrSkip
		}
		vals[i] = a.Value
	}
	return vals, nil
}

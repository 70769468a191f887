package store

import (
	lru "container/list"
	"context"
	"database/sql/driver"
	"errors"
	"reflect"

	"modernc.org/sqlite"
)

// The SQLite driver compiles every statement it is given anew: it has no
// statement cache, and database/sql prepares nothing unless asked. Under
// load a third of Parley's CPU went to parsing the same few dozen SQL texts
// (River's fetch and completion queries most of all). cachingConnector
// keeps each connection's compiled statements, keyed by their text, and
// reuses them; SQLite recompiles a kept statement by itself when the schema
// changes (sqlite3_prepare_v2).
//
// A statement is used by one query at a time: while its rows are open
// (say, a loop over rows that runs the same query inside) the next use
// prepares a one-off statement, as without the cache.

// stmtCacheSize bounds the statements kept per connection. Parley and
// River use a few hundred distinct texts; the rest are evicted oldest first.
const stmtCacheSize = 512

// newSQLiteConnector returns a connector for dsn whose connections cache
// their statements.
func newSQLiteConnector(dsn string) (driver.Connector, error) {
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return &cachingConnector{base: base}, nil
}

type cachingConnector struct{ base driver.Connector }

func (c *cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn)
}

func (c *cachingConnector) Driver() driver.Driver { return c.base.Driver() }

// innerConn is what the SQLite driver's connection offers and the cache uses.
type innerConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.QueryerContext
	driver.ExecerContext
}

type cachingConn struct {
	inner innerConn
	// cache maps SQL text to its element in order (front: most recent).
	cache map[string]*lru.Element
	order *lru.List
}

type cachedStmt struct {
	query string
	stmt  driver.Stmt
	busy  bool // rows from it are open
	gone  bool // evicted while busy: close when its rows close
}

func newCachingConn(c driver.Conn) (driver.Conn, error) {
	inner, ok := c.(innerConn)
	if !ok {
		c.Close()
		return nil, errors.New("sqlite connection lacks the context interfaces")
	}
	return &cachingConn{inner: inner, cache: map[string]*lru.Element{}, order: lru.New()}, nil
}

// database/sql serializes calls on one driver.Conn, so no lock is needed.

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) { return c.inner.Prepare(query) }
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.inner.PrepareContext(ctx, query)
}
func (c *cachingConn) Begin() (driver.Tx, error) { return c.inner.Begin() } //nolint:staticcheck // required by driver.Conn
func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.inner.BeginTx(ctx, opts)
}

func (c *cachingConn) Close() error {
	var errs []error
	for e := c.order.Front(); e != nil; e = e.Next() {
		if cs := e.Value.(*cachedStmt); !cs.busy {
			errs = append(errs, cs.stmt.Close())
		}
	}
	c.cache, c.order = nil, lru.New()
	errs = append(errs, c.inner.Close())
	return errors.Join(errs...)
}

func (c *cachingConn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *cachingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cachingConn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// get returns the cached statement for query, preparing and caching it
// first; nil when it is busy (the caller goes uncached).
func (c *cachingConn) get(ctx context.Context, query string) (*cachedStmt, error) {
	if e, ok := c.cache[query]; ok {
		cs := e.Value.(*cachedStmt)
		if cs.busy {
			return nil, nil
		}
		c.order.MoveToFront(e)
		return cs, nil
	}
	st, err := c.inner.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{query: query, stmt: st}
	c.cache[query] = c.order.PushFront(cs)
	for c.order.Len() > stmtCacheSize {
		old := c.order.Back()
		oc := old.Value.(*cachedStmt)
		c.order.Remove(old)
		delete(c.cache, oc.query)
		if oc.busy {
			oc.gone = true
		} else {
			oc.stmt.Close()
		}
	}
	return cs, nil
}

// drop forgets a statement that failed, in case the failure left it unusable.
func (c *cachingConn) drop(cs *cachedStmt) {
	if e, ok := c.cache[cs.query]; ok && e.Value.(*cachedStmt) == cs {
		c.order.Remove(e)
		delete(c.cache, cs.query)
	}
	if cs.busy {
		cs.gone = true
		return
	}
	cs.stmt.Close()
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.inner.ExecContext(ctx, query, args)
	}
	res, err := cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
	if err != nil && !isConstraintOrBusy(err) {
		c.drop(cs)
	}
	return res, err
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.inner.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		if !isConstraintOrBusy(err) {
			c.drop(cs)
		}
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, cs: cs}, nil
}

// isConstraintOrBusy tells the errors that say nothing about the statement
// itself (a unique violation, a busy database), after which it stays usable.
func isConstraintOrBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case 19, 5, 6: // SQLITE_CONSTRAINT, SQLITE_BUSY, SQLITE_LOCKED
		return true
	}
	return false
}

// cachedRows frees its statement for the next use when closed, and passes
// the driver's column type information through.
type cachedRows struct {
	driver.Rows
	cs *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if r.cs != nil {
		r.cs.busy = false
		if r.cs.gone {
			r.cs.stmt.Close()
		}
		r.cs = nil
	}
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

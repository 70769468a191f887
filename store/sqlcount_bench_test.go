package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// BenchmarkStatement puts the counting wrapper's cost beside a plain
// statement on the same SQLite connector:
//
//	go test ./store -run '^$' -bench Statement
func BenchmarkStatement(b *testing.B) {
	for _, wrapped := range []bool{false, true} {
		name := "plain"
		if wrapped {
			name = "counted"
		}
		b.Run(name, func(b *testing.B) {
			_, _, source, err := parseDSN(filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			conn, err := newSQLiteConnector(source)
			if err != nil {
				b.Fatal(err)
			}
			var db *sql.DB
			if wrapped {
				db = sql.OpenDB(&countingConnector{base: conn, n: &sqlCounts{}})
			} else {
				db = sql.OpenDB(conn)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			ctx := context.Background()
			var n int
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

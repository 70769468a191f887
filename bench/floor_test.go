package bench

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// BenchmarkFloor prints the machine's floor figures on both engines:
//
//	go test ./bench -run '^$' -bench Floor -benchtime 1x
func BenchmarkFloor(b *testing.B) {
	for _, e := range storetest.Engines() {
		b.Run(string(e), func(b *testing.B) {
			dsn := "parley.db"
			if e == store.Postgres {
				storetest.RequirePostgres(b)
				dsn = storetest.PostgresURL()
			}
			for i := 0; i < b.N; i++ {
				f, err := MeasureFloor(context.Background(), dsn, 2*time.Second)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(f.CommitsPerSecond, "commits/s")
				b.ReportMetric(f.NoopJobsPerSecond, "noop-jobs/s")
				b.ReportMetric(f.HTTPPerSecond, "http-req/s")
			}
		})
	}
}

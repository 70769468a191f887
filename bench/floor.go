// Package bench measures the floor beneath Parley's figures on the machine
// at hand: how fast the database commits one row, how fast River inserts and
// works a job that does nothing, and how fast loopback HTTP answers. Parley's
// own figures are reported as ratios to these, so they mean something on a
// noisy or unfamiliar machine. Its SQL (a table of its own, one row per
// commit) stays here: it measures the engine, not Parley's queries.
package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/store"
)

// Floor is what the machine itself manages, per second.
type Floor struct {
	CommitsPerSecond  float64 `json:"db_single_row_commits_per_second"`
	NoopJobsPerSecond float64 `json:"river_noop_jobs_per_second"`
	HTTPPerSecond     float64 `json:"loopback_http_requests_per_second"`
}

// Scratch opens an empty, migrated store next to dsn: a new SQLite file in
// a temp dir, or a new schema on the PostgreSQL server of dsn. The returned
// func removes it.
func Scratch(ctx context.Context, dsn string) (*store.Store, func(), error) {
	if strings.HasPrefix(dsn, "postgres") {
		var b [6]byte
		_, _ = rand.Read(b[:])
		schema := "bench_" + hex.EncodeToString(b[:])
		admin, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, nil, err
		}
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
			admin.Close()
			return nil, nil, err
		}
		u, err := url.Parse(dsn)
		if err != nil {
			admin.Close()
			return nil, nil, err
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		s, err := openMigrated(ctx, u.String())
		if err != nil {
			admin.Close()
			return nil, nil, err
		}
		return s, func() {
			s.Close()
			admin.Exec("DROP SCHEMA " + schema + " CASCADE")
			admin.Close()
		}, nil
	}
	dir, err := os.MkdirTemp("", "parley-bench")
	if err != nil {
		return nil, nil, err
	}
	s, err := openMigrated(ctx, filepath.Join(dir, "bench.db"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return s, func() { s.Close(); os.RemoveAll(dir) }, nil
}

func openMigrated(ctx context.Context, dsn string) (*store.Store, error) {
	s, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		return nil, err
	}
	if _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// MeasureFloor runs the three floor measurements for about `each` apiece on
// a scratch database beside dsn.
func MeasureFloor(ctx context.Context, dsn string, each time.Duration) (Floor, error) {
	var f Floor
	s, done, err := Scratch(ctx, dsn)
	if err != nil {
		return f, fmt.Errorf("scratch database: %w", err)
	}
	defer done()
	if f.CommitsPerSecond, err = commitRate(ctx, s, each); err != nil {
		return f, fmt.Errorf("commit rate: %w", err)
	}
	if f.NoopJobsPerSecond, err = noopJobRate(ctx, s, each); err != nil {
		return f, fmt.Errorf("job rate: %w", err)
	}
	f.HTTPPerSecond = httpRate(each)
	return f, nil
}

// commitRate inserts one row per transaction, one at a time.
func commitRate(ctx context.Context, s *store.Store, each time.Duration) (float64, error) {
	if _, err := s.DB().ExecContext(ctx, `CREATE TABLE bench_commits (id BIGINT PRIMARY KEY, body TEXT NOT NULL)`); err != nil {
		return 0, err
	}
	start := time.Now()
	n := 0
	for time.Since(start) < each {
		tx, err := s.DB().BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO bench_commits (id, body) VALUES ($1, $2)`, n, "a row like a small message"); err != nil {
			tx.Rollback()
			return 0, err
		}
		if err := tx.Commit(); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

type noopArgs struct {
	N int `json:"n"`
}

func (noopArgs) Kind() string { return "bench_noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	done *atomic.Int64
}

func (w *noopWorker) Work(context.Context, *river.Job[noopArgs]) error {
	w.done.Add(1)
	return nil
}

// noopJobRate inserts no-op jobs one at a time (each its own insert) while a
// client with Parley's settings works them, and counts completions.
func noopJobRate(ctx context.Context, s *store.Store, each time.Duration) (float64, error) {
	var done atomic.Int64
	workers := river.NewWorkers()
	river.AddWorker(workers, &noopWorker{done: &done})
	c, err := jobs.NewClient(s, workers, jobs.Config{Poll: 20 * time.Millisecond})
	if err != nil {
		return 0, err
	}
	if err := c.Start(ctx); err != nil {
		return 0, err
	}
	defer c.Stop(context.WithoutCancel(ctx))
	start := time.Now()
	inserted := 0
	for time.Since(start) < each {
		if _, err := c.Insert(ctx, noopArgs{N: inserted}, nil); err != nil {
			return 0, err
		}
		inserted++
	}
	for done.Load() < int64(inserted) && time.Since(start) < 3*each+10*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	return float64(done.Load()) / time.Since(start).Seconds(), nil
}

// httpRate sends small requests over loopback from 16 connections.
func httpRate(each time.Duration) float64 {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var n atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(each)
	start := time.Now()
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				res, err := client.Post(srv.URL, "application/json", strings.NewReader(`{"hello":"world"}`))
				if err != nil {
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

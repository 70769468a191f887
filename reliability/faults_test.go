//go:build reliability

package reliability

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// TestFaults runs the load while the fake LLM and the fake Graph API
// misbehave at a chosen rate (slow answers, 429 with and without
// Retry-After, 5xx, broken and schema-violating JSON, dropped
// connections) and, on PostgreSQL, the database is unreachable for a few
// seconds, twice. Parley must stay up, retry, degrade as documented (a
// holding reply and a ticket when the model keeps failing; the team then
// closes the ticket), and catch up once the faults end: every message
// stored once and answered.
func TestFaults(t *testing.T) {
	const (
		customers, messages = 100, 6
		llmRate, graphRate  = 0.3, 0.15
		faultFor            = 30 * time.Second
	)
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			dsn := storetest.DSN(t, engine)
			parleyDSN := dsn
			var proxy *cutProxy
			if engine == store.Postgres {
				proxy = newCutProxy(t, hostOf(t, dsn))
				parleyDSN = proxy.behind(t, dsn)
			}
			// No kills here: a long rescue delay keeps River from taking
			// slow jobs for dead ones.
			w := newWorld(t, parleyDSN, worldOptions{env: []string{"PARLEY_JOB_TIMEOUT=30s", "PARLEY_JOB_RESCUE_AFTER=2m"}})
			addr := freeAddr(t)
			proc := w.start(addr)
			phones := w.setUp(proc, customers, "")
			addrs := func() []string { return []string{addr} }

			// The process must never go down: watch it all along.
			var died atomic.Bool
			watchCtx, stopWatch := context.WithCancel(context.Background())
			defer stopWatch()
			go func() {
				select {
				case <-proc.exited:
					died.Store(true)
				case <-watchCtx.Done():
				}
			}()

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			w.model.SetFaultRate(llmRate)
			w.graph.SetFaultRate(graphRate)
			start := time.Now()
			done, errs := w.runCustomers(ctx, addrs, phones, messages)

			var outages []string
			if proxy != nil {
				for _, o := range []struct{ at, for_ time.Duration }{{5 * time.Second, 5 * time.Second}, {18 * time.Second, 3 * time.Second}} {
					time.Sleep(time.Until(start.Add(o.at)))
					proxy.Cut()
					time.Sleep(o.for_)
					proxy.Restore()
					outages = append(outages, o.for_.String())
				}
			}
			select {
			case <-done:
			case <-time.After(time.Until(start.Add(faultFor))):
			}
			w.model.SetFaultRate(0)
			w.graph.SetFaultRate(0)
			faultsEnded := time.Now()
			<-done
			for err := range errs {
				if err != nil {
					t.Fatalf("%v\nlast server log:\n%s", err, tail(proc.log.String(), 40))
				}
			}
			caughtUp := time.Since(faultsEnded)
			settle(t, dsn, 3*time.Minute)
			if died.Load() || !proc.alive() {
				t.Fatalf("parley went down under the faults:\n%s", tail(proc.log.String(), 60))
			}

			c := count(t, w, dsn, phones, messages, false)
			db := "no database outage (SQLite is a file)"
			if len(outages) > 0 {
				db = "database unreachable for " + strings.Join(outages, " and ")
			}
			report(t, fmt.Sprintf("faults for %s (LLM rate %.2f: %d faults; Graph API rate %.2f: %d faults; %s), caught up %s after they ended; process stayed up",
				faultFor, llmRate, w.model.Faults(), graphRate, w.graph.Faults(), db, caughtUp.Round(time.Second)), c)
			checkStoredOnce(t, c)
			if c.holdingStored != c.holdingSent {
				t.Errorf("%d holding replies stored, %d sent", c.holdingStored, c.holdingSent)
			}
			// No kills: a lost answer waits for its status, so nothing is
			// sent twice.
			if c.doubled > 0 {
				t.Errorf("%d doubled sends without a crash", c.doubled)
			}
		})
	}
}

func hostOf(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Fatalf("no host in the PostgreSQL URL (%v)", err)
	}
	return u.Host
}

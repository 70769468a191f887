//go:build reliability

package reliability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// TestReplicas runs three `serve` processes on one PostgreSQL database
// under the crash test's load, with each webhook and API call going to any
// of them. Without kills nothing may be doubled: every message stored and
// answered once, one follow-up per session while Follow-Up Requests are
// asked for by hand on every replica, and each single-answer notification
// answered exactly once when all replicas take an answer for it at once,
// and that answer passed on to the customer once.
func TestReplicas(t *testing.T) {
	const customers, messages, replicas, notifications = 200, 10, 3, 30
	dsn := storetest.DSN(t, store.Postgres)
	w := newWorld(t, dsn, worldOptions{})
	var procs []*process
	var addrList []string
	for i := 0; i < replicas; i++ {
		procs = append(procs, w.start(freeAddr(t)))
		addrList = append(addrList, procs[i].addr)
	}
	phones := w.setUp(procs[0], customers, "1m")
	for i, phone := range []string{"+15550009001", "+15550009002"} {
		if _, err := w.api(procs[0].addr, "POST", "/api/staff", map[string]any{"phone": phone, "name": fmt.Sprintf("Admin %d", i), "type": "admin"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	addrs := func() []string {
		i := rand.IntN(replicas)
		return append(append([]string{}, addrList[i:]...), addrList[:i]...)
	}
	anyAddr := func() string { return addrList[rand.IntN(replicas)] }
	logs := func() string {
		out := ""
		for i, p := range procs {
			out += fmt.Sprintf("--- replica %d\n%s\n", i, tail(p.log.String(), 20))
		}
		return out
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	done, errs := w.runCustomers(ctx, addrs, phones, messages)
	<-done
	for err := range errs {
		if err != nil {
			t.Fatalf("%v\n%s", err, logs())
		}
	}
	talk := time.Since(start)

	convs, err := w.conversations(addrList[0])
	if err != nil || len(convs) != customers {
		t.Fatalf("%d conversations (%v), want %d", len(convs), err, customers)
	}
	// Follow-ups by hand on every replica while the rule's come due.
	stopAsking := w.askForFollowUps(ctx, anyAddr, convs, phones)

	// Notifications: raised for some customers, then answered by every
	// replica at once, twice each.
	notified := phones[:notifications]
	var accepted, refused atomic.Int64
	var routeMu sync.Mutex
	var slowestRoute time.Duration
	var nwg sync.WaitGroup
	for _, p := range notified {
		nwg.Add(1)
		go func() {
			defer nwg.Done()
			var raised struct{ ID string }
			if _, err := w.api(anyAddr(), "POST", "/api/notifications", map[string]any{"type": "user_question_request", "conversation_id": convs[p],
				"context": map[string]string{"question": "Do you deliver on Sundays?"}}, &raised); err != nil {
				t.Error(err)
				return
			}
			raisedAt := time.Now()
			for deadline := raisedAt.Add(3 * time.Minute); ; {
				var n struct{ Status string }
				if code, _ := w.api(anyAddr(), "GET", "/api/notifications/"+raised.ID, nil, &n); code == 200 && n.Status == "requested" {
					routeMu.Lock()
					slowestRoute = max(slowestRoute, time.Since(raisedAt))
					routeMu.Unlock()
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("notification %s never routed", raised.ID)
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
			var awg sync.WaitGroup
			for i := 0; i < 2*replicas; i++ {
				awg.Add(1)
				go func() {
					defer awg.Done()
					code, _ := w.api(addrList[i%replicas], "POST", "/api/notifications/"+raised.ID+"/answer", map[string]any{"answer": "Yes, on Sundays too."}, nil)
					switch code {
					case 200:
						accepted.Add(1)
					case 409:
						refused.Add(1)
					default:
						t.Errorf("answer to %s = %d", raised.ID, code)
					}
				}()
			}
			awg.Wait()
		}()
	}
	nwg.Wait()

	arrived := func() (followUps, answers int) {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, p := range phones {
			followUps += min(w.followUps[p], 1)
		}
		for _, p := range notified {
			answers += min(w.notified[p], 1)
		}
		return
	}
	for deadline := time.Now().Add(4 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if f, a := arrived(); f == customers && a == notifications {
			break
		}
	}
	requested := stopAsking()
	settle(t, dsn, 2*time.Minute)

	c := count(t, w, dsn, phones, messages, true)
	w.mu.Lock()
	notifiedSent, notifiedDoubled, notifiedMissing := 0, 0, 0
	for _, p := range notified {
		notifiedSent += w.notified[p]
		notifiedDoubled += max(w.notified[p]-1, 0)
		if w.notified[p] == 0 {
			notifiedMissing++
		}
	}
	w.mu.Unlock()
	workers := workedBy(t, dsn)
	report(t, fmt.Sprintf("%d replicas (jobs worked by %d), talk %s, %d follow-ups requested by hand; %d notifications (routed within %s) answered %d times at once: %d accepted, %d refused (409); staff answers passed on %d (%d doubled, %d missing)",
		replicas, workers, talk.Round(time.Second), requested, notifications, slowestRoute.Round(100*time.Millisecond), 2*replicas, accepted.Load(), refused.Load(), notifiedSent, notifiedDoubled, notifiedMissing), c)
	checkStoredOnce(t, c)
	checkFollowUps(t, c, customers)
	if c.missing > 0 || c.doubled > 0 || c.followUpsDoubled > 0 {
		t.Errorf("without kills: %d questions unanswered, %d answers and %d follow-ups doubled at the Graph API\n%s", c.missing, c.doubled, c.followUpsDoubled, logs())
	}
	if accepted.Load() != notifications || refused.Load() != int64(notifications*(2*replicas-1)) {
		t.Errorf("%d answers accepted and %d refused for %d notifications, want exactly one each", accepted.Load(), refused.Load(), notifications)
	}
	if notifiedDoubled > 0 || notifiedMissing > 0 {
		t.Errorf("staff answers passed on: %d doubled, %d missing", notifiedDoubled, notifiedMissing)
	}
	if workers != replicas {
		t.Errorf("jobs were worked by %d processes, want all %d", workers, replicas)
	}
}

// workedBy counts the processes that worked jobs.
func workedBy(t *testing.T, dsn string) int {
	s, err := store.Open(context.Background(), dsn, store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := s.DB().QueryRow(`SELECT count(DISTINCT attempted_by[1]) FROM river_job WHERE attempted_by IS NOT NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

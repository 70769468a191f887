package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// Two `serve` processes on one PostgreSQL database share the job queue:
// every job runs once, whichever process takes it.
func TestTwoReplicasShareTheWork(t *testing.T) {
	// Not t.Parallel: it runs two processes against deadlines that other
	// tests' load would stretch.
	if testing.Short() {
		t.Skip("starts real processes")
	}
	graph := whatsapptest.NewFakeGraph()
	t.Cleanup(graph.Close)
	const channels = 30
	for i := 0; i < channels; i++ {
		graph.AddNumber(whatsapptest.Number{ID: fmt.Sprintf("10600000000%04d", i), Token: "tok", Display: "+1 555-000-1111", VerifiedName: "Acme"})
	}
	dsn := storetest.DSN(t, store.Postgres)
	dir := t.TempDir()
	env := []string{"PARLEY_DATABASE_URL=" + dsn, "PARLEY_WHATSAPP_GRAPH_URL=" + graph.URL}
	a, b := startServer(t, dir, env...), startServer(t, dir, env...)
	a.waitHealthy(t, 10*time.Second)
	b.waitHealthy(t, 10*time.Second)
	_, key := runTenantCreate(t, dir, env...)

	for i := 0; i < channels; i++ {
		target := a
		if i%2 == 1 {
			target = b
		}
		body := fmt.Sprintf(`{"type":"whatsapp","name":"N%d","phone_number_id":"10600000000%04d","access_token":"tok"}`, i, i)
		req, _ := http.NewRequest("POST", target.url+"/api/channels", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 201 {
			t.Fatalf("create channel %d = %d", i, res.StatusCode)
		}
	}

	s, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var done, total int
		s.DB().QueryRow(`SELECT count(*) FILTER (WHERE state = 'completed'), count(*) FROM river_job WHERE kind = 'check_channel'`).Scan(&done, &total)
		if done == channels {
			if total != channels {
				t.Fatalf("%d check jobs for %d channels", total, channels)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d checks completed", done, channels)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := graph.Requests(); n != channels {
		t.Fatalf("the Graph API was asked %d times for %d channels: a job ran twice or not at all", n, channels)
	}
	var workers int
	s.DB().QueryRow(`SELECT count(DISTINCT attempted_by[1]) FROM river_job WHERE kind = 'check_channel'`).Scan(&workers)
	t.Logf("%d checks worked by %d processes", channels, workers)
}

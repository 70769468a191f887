package main

import (
	"bytes"
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// TestJobSurvivesSIGKILL kills `parley serve` while a job is in flight (a
// channel check whose Graph API call hangs), starts it again, and checks the
// job completes exactly once in effect: one job row, completed on its second
// attempt, and the channel updated once.
func TestJobSurvivesSIGKILL(t *testing.T) {
	// Beside the other kill test (TestMain lets four run at once): all
	// four engine runs mostly wait for River to rescue the killed job.
	t.Parallel()
	if testing.Short() {
		t.Skip("starts and kills real processes")
	}
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		graph := whatsapptest.NewFakeGraph()
		t.Cleanup(graph.Close)
		graph.AddNumber(whatsapptest.Number{ID: "106000000000002", Token: "EAAG-channel-token", Display: "+1 555-000-1111", VerifiedName: "Acme Store"})
		graph.Script(whatsapptest.Hang())

		dsn := storetest.DSN(t, engine)
		dir := t.TempDir()
		env := []string{"PARLEY_DATABASE_URL=" + dsn, "PARLEY_WHATSAPP_GRAPH_URL=" + graph.URL,
			"PARLEY_JOB_TIMEOUT=3s", "PARLEY_JOB_RESCUE_AFTER=4s", "PARLEY_LOG_LEVEL=debug"}
		first := startServer(t, dir, env...)
		first.waitHealthy(t, 10*time.Second)
		_, key := runTenantCreate(t, dir, env...)

		chID := createChannel(t, first.url, key, `{"type":"whatsapp","name":"Main","phone_number_id":"106000000000002","access_token":"EAAG-channel-token"}`)

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := graph.WaitHanging(ctx, 1); err != nil {
			t.Fatalf("the check never reached the Graph API: %v\n%s", err, first.stderr.String())
		}
		if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		first.cmd.Wait()

		second := startServer(t, dir, env...)
		second.waitHealthy(t, 10*time.Second)
		deadline := time.Now().Add(90 * time.Second)
		for {
			code, got := apiGet(t, second.url+"/api/channels/"+chID, key)
			settings, _ := got["settings"].(map[string]any)
			if code == 200 && settings["check"] == "ok" {
				if got["display_number"] != "+1 555-000-1111" || settings["verified_name"] != "Acme Store" {
					t.Fatalf("channel after the check: %v", got)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the killed job never completed; channel %v\nlog:\n%s", got, second.stderr.String())
			}
			time.Sleep(100 * time.Millisecond)
		}

		s, err := store.Open(context.Background(), dsn, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		// River records the completion just after the work; wait for it.
		var states []string
		var attempts []int
		for end := time.Now().Add(15 * time.Second); ; {
			states, attempts = nil, nil
			rows, err := s.DB().Query(`SELECT state, attempt FROM river_job WHERE kind = 'check_channel'`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var st string
				var a int
				rows.Scan(&st, &a)
				states, attempts = append(states, st), append(attempts, a)
			}
			rows.Close()
			if len(states) != 1 || states[0] != "running" || time.Now().After(end) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(states) != 1 || states[0] != "completed" || attempts[0] != 2 {
			t.Fatalf("check_channel jobs: states %v attempts %v, want one completed on attempt 2", states, attempts)
		}
		if n := graph.Requests(); n != 2 {
			t.Fatalf("Graph API asked %d times, want 2 (the killed attempt and the retry)", n)
		}
		if bytes.Contains(first.stderr.Bytes(), []byte("EAAG-channel-token")) || bytes.Contains(second.stderr.Bytes(), []byte("EAAG-channel-token")) {
			t.Fatal("the access token appears in the logs")
		}
	})
}

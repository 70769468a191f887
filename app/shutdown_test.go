package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// On shutdown a job that cannot finish in time is released, not lost: it is
// left retryable and the next process completes it.
func TestShutdownReleasesInFlightJobs(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		graph := whatsapptest.NewFakeGraph()
		t.Cleanup(graph.Close)
		graph.AddNumber(whatsapptest.Number{ID: "1060001", Token: "tok", Display: "+1 555-000-1111", VerifiedName: "Acme"})
		graph.Script(whatsapptest.Hang())
		tune := func(c *config.Config) { c.WhatsAppGraphURL = graph.URL }

		dsn := storetest.DSN(t, e)
		first := apptest.StartOn(t, dsn, nil, tune)
		_, key := first.Tenant("A")
		r := first.Do("POST", "/api/channels", key, map[string]any{"type": "whatsapp", "name": "Main", "phone_number_id": "1060001", "access_token": "tok"})
		if r.Status != 201 {
			t.Fatalf("create channel = %d %s", r.Status, r.Body)
		}
		id := r.Map(t)["id"].(string)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := graph.WaitHanging(ctx, 1); err != nil {
			t.Fatal(err)
		}
		stopCtx, stop := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer stop()
		first.Stop(stopCtx) // the job cannot finish: it is cancelled and released

		second := apptest.StartOn(t, dsn, nil, tune)
		var ch struct{ Settings map[string]string }
		var jobs struct{ Items []struct{ State string } }
		apptest.Eventually(t, "the released check completes", func() bool {
			second.Do("GET", "/api/channels/"+id, key, nil).JSON(t, &ch)
			second.Do("GET", "/api/jobs?kind=check_channel", key, nil).JSON(t, &jobs)
			return ch.Settings["check"] == "ok" && len(jobs.Items) == 1 && jobs.Items[0].State == "completed"
		})
	})
}

//go:build reliability

package reliability

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/store/storetest"
)

// TestBroadcastResumesAfterKill sends a template to 1,000 customers at 80
// a second and kills `parley serve` with SIGKILL three times while it goes
// out. After each restart the broadcast carries on by itself; at the end
// every customer was sent it exactly once, as the fake Graph API counts.
func TestBroadcastResumesAfterKill(t *testing.T) {
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			const customers, rate = 1000, 80
			w := newWorld(t, storetest.DSN(t, engine), worldOptions{})
			addr := freeAddr(t)
			cur := w.start(addr)
			phones := w.setUp(cur, customers, "")
			const waba = "106000000000999"
			w.graph.AddAccount(waba, token, whatsapptest.BodyTemplate("reliable_sale", "en_US", "Hi {{1}}, our sale starts today."))
			var chans struct{ Items []struct{ ID string } }
			if _, err := w.api(addr, "GET", "/api/channels", nil, &chans); err != nil || len(chans.Items) != 1 {
				t.Fatalf("channels %v %v", chans, err)
			}
			ch := chans.Items[0].ID
			for _, call := range []struct {
				method, path string
				body         any
			}{
				{"PATCH", "/api/channels/" + ch, map[string]any{"settings": map[string]string{"waba_id": waba}}},
				{"POST", "/api/templates/sync", nil},
			} {
				if _, err := w.api(addr, call.method, call.path, call.body, nil); err != nil {
					t.Fatal(err)
				}
			}
			var b struct{ ID string }
			if _, err := w.api(addr, "POST", "/api/broadcasts", map[string]any{"channel_id": ch, "template_name": "reliable_sale",
				"parameters": []string{"{{name}}"}, "rate_per_second": rate}, &b); err != nil {
				t.Fatal(err)
			}
			start := time.Now()

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			sent := func() int {
				n := 0
				for _, c := range w.templates {
					n += c
				}
				return n
			}
			for _, at := range []int{150, 450, 750} {
				if err := w.waitFor(ctx, func() bool { return sent() >= at }); err != nil {
					t.Fatalf("waiting for %d sends (have %d): %v\n%s", at, sent(), err, tail(cur.log.String(), 40))
				}
				cur.kill()
				cur = w.start(addr) // the same address: Meta's status webhooks find it again
			}
			var view struct {
				Status string `json:"status"`
				Stats  struct {
					Sent, Pending, Failed int
				} `json:"stats"`
			}
			for view.Status != "finished" || view.Stats.Sent != customers {
				if ctx.Err() != nil {
					t.Fatalf("broadcast %+v after %s\n%s", view, time.Since(start), tail(cur.log.String(), 40))
				}
				if _, err := w.api(addr, "GET", "/api/broadcasts/"+b.ID, nil, &view); err != nil {
					t.Fatal(err)
				}
				time.Sleep(100 * time.Millisecond) // polling a real process's API
			}
			took := time.Since(start)

			w.mu.Lock()
			defer w.mu.Unlock()
			twice, missing := 0, 0
			for _, p := range phones {
				switch n := w.templates[p]; {
				case n == 0:
					missing++
				case n > 1:
					twice++
					t.Errorf("customer %s was sent the broadcast %d times", p, n)
				}
			}
			if missing > 0 || twice > 0 || sent() != customers {
				t.Fatalf("%d customers missed, %d sent twice, %d template sends for %d customers", missing, twice, sent(), customers)
			}
			fmt.Printf("reliability: %s broadcast to %d customers at %d/s with 3 kills: each sent once, finished in %.1fs (%.1fs without kills)\n",
				engine, customers, rate, took.Seconds(), float64(customers)/rate)
		})
	}
}

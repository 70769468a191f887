package web_test

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/store"
)

func TestAPIRateLimitIsPerTenant(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	p := apptest.Start(t, store.SQLite, clk, func(c *config.Config) { c.APIRateLimit = 2; c.WebhookRateLimit = 3 })
	_, keyA := p.Tenant("A")
	_, keyB := p.Tenant("B")
	allowed := 0
	var last apptest.Response
	for i := 0; i < 10; i++ {
		last = p.Do("GET", "/api/tenant", keyA, nil)
		if last.Status == 200 {
			allowed++
		}
	}
	if allowed != 5 || last.Status != 429 || last.ErrorCode() != "rate_limited" || last.Header.Get("Retry-After") != "1" {
		t.Fatalf("allowed %d of 10 (want the burst of 5), last = %d %s Retry-After %q", allowed, last.Status, last.Body, last.Header.Get("Retry-After"))
	}
	if r := p.Do("GET", "/api/tenant", keyB, nil); r.Status != 200 {
		t.Fatalf("tenant B limited by A's traffic: %d", r.Status)
	}
	clk.Advance(time.Second)
	if r := p.Do("GET", "/api/tenant", keyA, nil); r.Status != 200 {
		t.Fatalf("still limited after the refill: %d", r.Status)
	}

	limited := 0
	for i := 0; i < 10; i++ {
		if r := p.Do("POST", "/webhooks/whatsapp", "", "{}"); r.Status == 429 {
			limited++
			if r.Header.Get("Retry-After") == "" || r.ErrorCode() != "rate_limited" {
				t.Fatalf("webhook 429 without Retry-After or code: %v %s", r.Header, r.Body)
			}
		}
	}
	if limited != 6 {
		t.Fatalf("%d of 10 webhook calls limited, want 6 (burst of 4)", limited)
	}
}

// Every /api route that a tenant's key opens counts against that tenant's
// limit, the lead sequence call and the banner included: once the bucket
// is empty, each answers 429 with Retry-After and a code, and another tenant
// is not affected. The route list comes from the OpenAPI document.
func TestEveryAuthenticatedRouteIsRateLimited(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	p := apptest.Start(t, store.SQLite, clk, func(c *config.Config) { c.APIRateLimit = 2 })
	_, keyA := p.Tenant("A")
	_, keyB := p.Tenant("B")
	for i := 0; i < 5; i++ {
		if r := p.Do("GET", "/api/tenant", keyA, nil); r.Status != 200 {
			t.Fatalf("within the burst: %d", r.Status)
		}
	}
	n := 0
	for _, op := range apiOperations(t, p) {
		method, path, concrete := op.method, op.path, op.concrete
		r := p.Do(strings.ToUpper(method), concrete, keyA, map[string]any{})
		want := "rate_limited"
		if path == "/api/agents/sales/leadFollowUp" {
			want = "RATE_LIMITED" // in that endpoint's own envelope
		}
		if r.Status != http.StatusTooManyRequests || r.ErrorCode() != want || r.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s over the limit = %d %s (Retry-After %q), want 429 %s", method, path, r.Status, r.Body, r.Header.Get("Retry-After"), want)
		}
		n++
	}
	if n < 20 {
		t.Fatalf("only %d API operations found", n)
	}
	for _, path := range []string{"/api/tenant", "/api/sites/0192f0e0-0000-7000-8000-000000000000/banner?visitor=v"} {
		if r := p.Do("GET", path, keyB, nil); r.Status == http.StatusTooManyRequests {
			t.Errorf("tenant B limited by A's traffic on %s", path)
		}
	}
}

// Many concurrent lead sequence and banner calls with one key are held to
// the tenant's burst, not let through.
func TestConcurrentCallsOutsideHumaAreLimited(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	p := apptest.Start(t, store.SQLite, clk, func(c *config.Config) { c.APIRateLimit = 10 })
	_, key := p.Tenant("A")
	for _, path := range []string{"/api/agents/sales/leadFollowUp", "/api/sites/0192f0e0-0000-7000-8000-000000000000/banner?visitor=v"} {
		method := "GET"
		if strings.Contains(path, "leadFollowUp") {
			method = "POST"
		}
		var wg sync.WaitGroup
		var limited atomic.Int32
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(method, p.URL()+path, strings.NewReader(`{}`))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					return
				}
				res.Body.Close()
				if res.StatusCode == http.StatusTooManyRequests {
					limited.Add(1)
				}
			}()
		}
		wg.Wait()
		if limited.Load() < 100-21 {
			t.Errorf("%s %s: %d of 100 calls limited, want all but the burst of 21", method, path, limited.Load())
		}
		clk.Advance(time.Minute) // refill for the next route
	}
}

// The banner fetched with a site's publishable key is limited per site, on
// a bucket of its own: a busy site does not use up its tenant's API calls.
func TestBannerBySiteKeyIsLimitedPerSite(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	p := apptest.Start(t, store.SQLite, clk, func(c *config.Config) { c.APIRateLimit = 2 })
	_, key := p.Tenant("A")
	site := p.Do("POST", "/api/sites", key, map[string]any{"name": "Shop", "url": "https://shop.example"})
	if site.Status != 201 {
		t.Fatalf("create site: %d %s", site.Status, site.Body)
	}
	clk.Advance(time.Minute) // the tenant's bucket full again
	path := "/api/sites/" + site.Map(t)["id"].(string) + "/banner?visitor=v&key=" + site.Map(t)["site_key"].(string)
	limited := 0
	for i := 0; i < 10; i++ {
		r := p.Do("GET", path, "", nil)
		if r.Status == http.StatusTooManyRequests {
			limited++
			if r.ErrorCode() != "rate_limited" || r.Header.Get("Retry-After") == "" {
				t.Fatalf("429 without code or Retry-After: %v %s", r.Header, r.Body)
			}
		}
	}
	if limited != 5 {
		t.Fatalf("%d of 10 banner calls by site key limited, want 5 (burst of 5)", limited)
	}
	if r := p.Do("GET", "/api/tenant", key, nil); r.Status != 200 {
		t.Fatalf("the tenant's API limited by its site's banner traffic: %d", r.Status)
	}
}

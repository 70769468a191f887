package web_test

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/store"
)

func TestAPIRateLimitIsPerTenant(t *testing.T) {
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

package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/eventbus"
	"github.com/parleyhq/parley/netguard"
	"github.com/parleyhq/parley/store"
)

// GiveUpAfter is how long a delivery is retried.
const GiveUpAfter = 24 * time.Hour

// lease is how long a claimed delivery is ours: a process that dies holding
// it leaves it to be taken again then. It outlasts the slowest round (50
// deliveries, 8 at a time, 15 s each), so a live claim is never taken over.
const lease = 5 * time.Minute

// backoff is the wait after a failed attempt n (1-based).
func backoff(n int) time.Duration {
	steps := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
		30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour}
	if n-1 < len(steps) {
		return steps[n-1]
	}
	return 6 * time.Hour
}

// Dispatcher posts due deliveries.
type Dispatcher struct {
	Store *store.Store
	Clock clock.Clock
	Log   *slog.Logger
	// HTTP posts the deliveries; it should refuse addresses tenants may not
	// reach (the outbound address rules) and time out.
	HTTP *http.Client
	// Poll is how often it looks for due deliveries (default 500 ms).
	Poll time.Duration
}

// Run delivers until ctx ends. Beside it, it keeps the store's "any active
// subscription" flag fresh (it matters on SQLite only; see store).
func (d *Dispatcher) Run(ctx context.Context) {
	poll := d.Poll
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := d.Store.RefreshWebhooksActive(ctx); err != nil && ctx.Err() == nil {
					d.log().WarnContext(ctx, "webhook subscriptions: refresh failed", "err", err)
				}
			}
		}
	}()
	for ctx.Err() == nil {
		n, err := d.Round(ctx)
		if err != nil && ctx.Err() == nil {
			d.log().WarnContext(ctx, "webhook deliveries: round failed", "err", err)
		}
		if n == 0 || err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(poll):
			}
		}
	}
}

func (d *Dispatcher) log() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Log
}

// Round claims a batch of due deliveries and posts them concurrently, each
// outcome recorded as soon as it is known. It returns how many it tried.
func (d *Dispatcher) Round(ctx context.Context) (int, error) {
	until := d.Clock.Now().Add(lease)
	due, err := d.Store.ClaimWebhookDeliveries(ctx, 50, until)
	if err != nil || len(due) == 0 {
		return 0, err
	}
	// Outcomes are recorded even while the process stops: a post that went
	// out must not be made again for want of its record.
	rctx := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, 8)
	for i := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func(dd store.DueDelivery) {
			defer func() { <-sem; wg.Done() }()
			if err := d.record(rctx, dd, d.attempt(ctx, dd), until); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(due[i])
	}
	wg.Wait()
	return len(due), errors.Join(errs...)
}

// record saves one attempt's outcome; a delivery given up switches its
// subscription off with the reason, unless the endpoint took another
// delivery within the day (it works; this one event it refuses).
func (d *Dispatcher) record(ctx context.Context, dd store.DueDelivery, r store.DeliveryResult, until time.Time) error {
	return d.Store.InTx(ctx, func(q *store.Queries) error {
		ok, err := q.RecordWebhookAttempt(ctx, r, until)
		if err != nil || !ok || r.Status != parley.DeliveryFailed {
			return err
		}
		works, err := q.WebhookDeliveredSince(ctx, dd.SubscriptionID, d.Clock.Now().Add(-GiveUpAfter))
		if err != nil || works {
			return err
		}
		reason := fmt.Sprintf("deliveries failed for %s; the last attempt: %s", GiveUpAfter, describe(r))
		if err := q.DisableWebhookSubscription(ctx, dd.SubscriptionID, reason); err != nil {
			return err
		}
		if err := q.FailPendingWebhookDeliveries(ctx, dd.SubscriptionID, "not sent: the subscription was switched off ("+reason+")"); err != nil {
			return err
		}
		d.log().WarnContext(ctx, "webhook subscription switched off", "tenant_id", dd.Event.TenantID,
			"subscription_id", dd.SubscriptionID, "reason", reason)
		return nil
	})
}

func describe(r store.DeliveryResult) string {
	if r.StatusCode != 0 {
		return fmt.Sprintf("HTTP %d", r.StatusCode)
	}
	return r.Error
}

// attempt posts one delivery and says what became of it.
func (d *Dispatcher) attempt(ctx context.Context, dd store.DueDelivery) store.DeliveryResult {
	res := store.DeliveryResult{ID: dd.ID}
	body, _ := json.Marshal(eventbus.Envelope(dd.Event, 0))
	now := d.Clock.Now()
	actx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, dd.URL, bytes.NewReader(body))
	if err == nil {
		req.Header.Set("Content-Type", "application/cloudevents+json")
		req.Header.Set("User-Agent", "Parley-Webhooks/1")
		req.Header.Set("Parley-Signature", Sign(dd.Secret, now, body))
		req.Header.Set("Parley-Event", dd.Event.Name)
		req.Header.Set("Parley-Event-Id", dd.Event.ID)
		req.Header.Set("Parley-Delivery-Id", dd.ID)
		var resp *http.Response
		if resp, err = d.HTTP.Do(req); err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			resp.Body.Close()
			res.StatusCode, res.Response = resp.StatusCode, printable(b)
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				res.Status = parley.DeliveryDelivered
				return res
			}
		}
	}
	if err != nil {
		res.Error = errorText(err)
	}
	if now.Sub(dd.CreatedAt) >= GiveUpAfter {
		res.Status = parley.DeliveryFailed
		return res
	}
	res.Status, res.Next = parley.DeliveryPending, now.Add(backoff(dd.Attempts+1))
	return res
}

// errorText says why no answer came, without Go's wrapping noise.
func errorText(err error) string {
	var refused *netguard.RefusedError
	if errors.As(err, &refused) {
		return refused.Error() // what Parley refused, in full
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s, "Post ") {
		s = s[i+2:]
	}
	return s
}

// printable keeps the endpoint's answer as valid UTF-8 text.
func printable(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "�")
}

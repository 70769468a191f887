// Package hooks sends each tenant's conversation events to the HTTPS
// endpoints it subscribed (webhooks). A delivery row is created with the
// event, in its transaction (store: AppendEvent), so nothing logged is
// missed; the Dispatcher here claims due deliveries in batches with a
// lease, posts them concurrently, signed, and records the outcomes. A
// failing endpoint is retried with backoff for a day; then the delivery is
// failed and the subscription switched off with the reason.
package hooks

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/store"
)

// Service manages subscriptions.
type Service struct {
	Store *store.Store
	Clock clock.Clock
	Log   *slog.Logger
	// Known reports whether name is an event of the catalog.
	Known func(name string) bool
}

// Input is what a tenant sends to create or change a subscription.
type Input struct {
	URL         *string   `json:"url,omitempty" maxLength:"2000" doc:"https:// endpoint (http:// only for addresses the operator allows)"`
	Events      *[]string `json:"events,omitempty" maxItems:"100" doc:"Catalog names (parley events), or [\"*\"] for every event"`
	Description *string   `json:"description,omitempty" maxLength:"500"`
	Active      *bool     `json:"active,omitempty" doc:"false switches it off; true switches it on again (clearing disabled_reason)"`
}

// Create stores a new subscription and returns it with its secret, which
// is shown this once.
func (s *Service) Create(ctx context.Context, tenantID string, in Input) (parley.WebhookSubscription, error) {
	sub := parley.WebhookSubscription{TenantID: tenantID}
	if in.URL == nil {
		return sub, parley.FieldError("url", "is required")
	}
	if in.Events == nil {
		return sub, parley.FieldError("events", "is required: name the events to send, or [\"*\"] for all")
	}
	if err := s.apply(&sub, in); err != nil {
		return sub, err
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	sub.Secret = "whsec_" + hex.EncodeToString(b[:])
	return s.Store.CreateWebhookSubscription(ctx, sub)
}

// Update changes a subscription; the secret is never shown again.
func (s *Service) Update(ctx context.Context, tenantID, id string, in Input) (parley.WebhookSubscription, error) {
	sub, err := s.Store.GetWebhookSubscription(ctx, tenantID, id)
	if err != nil {
		return sub, err
	}
	if err := s.apply(&sub, in); err != nil {
		return sub, err
	}
	if err := s.Store.UpdateWebhookSubscription(ctx, sub); err != nil {
		return sub, err
	}
	sub.Secret = ""
	return sub, nil
}

func (s *Service) apply(sub *parley.WebhookSubscription, in Input) error {
	if in.URL != nil {
		if err := checkURL(*in.URL); err != nil {
			return err
		}
		sub.URL = *in.URL
	}
	if in.Events != nil {
		if len(*in.Events) == 0 {
			return parley.FieldError("events", "must name at least one event, or be [\"*\"]")
		}
		for _, e := range *in.Events {
			if e == "*" {
				if len(*in.Events) > 1 {
					return parley.FieldError("events", "\"*\" stands alone: it means every event")
				}
				continue
			}
			if s.Known != nil && !s.Known(e) {
				return parley.FieldError("events", "%q is not an event of the catalog (parley events lists them)", e)
			}
		}
		sub.Events = *in.Events
	}
	if in.Description != nil {
		sub.Description = *in.Description
	}
	if in.Active != nil {
		sub.Active = *in.Active
		sub.DisabledReason = ""
	}
	return nil
}

// checkURL accepts an absolute http(s) URL without credentials; where it may
// point is checked when it is dialled (the outbound address rules).
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return parley.FieldError("url", "must be an absolute https:// URL")
	}
	if u.User != nil {
		return parley.FieldError("url", "must not carry a user name or password")
	}
	if u.Fragment != "" {
		return parley.FieldError("url", "must not have a #fragment")
	}
	return nil
}

// Sign returns the Parley-Signature header for body sent at t: the Unix
// time and the hex HMAC-SHA256, under the subscription's secret, of
// "<time>.<body>".
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a Parley-Signature header the way a receiver should: the
// HMAC matches and the time is within tolerance of now.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return fmt.Errorf("malformed signature header")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("signature time is %s away from now", d.Round(time.Second))
	}
	want := Sign(secret, time.Unix(sec, 0), body)
	if !hmac.Equal([]byte(want), []byte("t="+ts+",v1="+sig)) {
		return fmt.Errorf("signature does not match")
	}
	return nil
}

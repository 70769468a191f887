package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley"
)

const subscriptionCols = `id, tenant_id, url, secret, events, description, active, disabled_reason, created_at`

func scanSubscription(row interface{ Scan(...any) error }) (parley.WebhookSubscription, error) {
	var s parley.WebhookSubscription
	var events string
	var created int64
	err := row.Scan(&s.ID, &s.TenantID, &s.URL, &s.Secret, &events, &s.Description, &s.Active, &s.DisabledReason, &created)
	if err != nil {
		return s, err
	}
	s.CreatedAt = fromMicros(created)
	return s, decodeJSON(events, &s.Events)
}

// CreateWebhookSubscription stores a subscription.
func (q *Queries) CreateWebhookSubscription(ctx context.Context, s parley.WebhookSubscription) (parley.WebhookSubscription, error) {
	s.ID, s.CreatedAt, s.Active = newID(), q.clock.Now(), true
	_, err := q.q.ExecContext(ctx, `INSERT INTO webhook_subscriptions (`+subscriptionCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8)`,
		s.ID, s.TenantID, s.URL, s.Secret, encodeJSON(s.Events), s.Description, s.Active, micros(s.CreatedAt))
	if err != nil {
		return s, fmt.Errorf("create webhook subscription: %w", err)
	}
	q.hooks.raise()
	return s, nil
}

// GetWebhookSubscription returns one of the tenant's subscriptions.
func (q *Queries) GetWebhookSubscription(ctx context.Context, tenantID, id string) (parley.WebhookSubscription, error) {
	s, err := scanSubscription(q.q.QueryRowContext(ctx, `SELECT `+subscriptionCols+` FROM webhook_subscriptions WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return s, rowErr(err, "webhook subscription")
}

// ListWebhookSubscriptions pages through the tenant's subscriptions.
func (q *Queries) ListWebhookSubscriptions(ctx context.Context, tenantID string, p Page) ([]parley.WebhookSubscription, string, error) {
	return list(ctx, q, p, scanSubscription, func(s parley.WebhookSubscription) string { return s.ID },
		`SELECT `+subscriptionCols+` FROM webhook_subscriptions WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID)
}

// UpdateWebhookSubscription saves the URL, events, description and active
// flag (and the reason it was switched off, empty when switched on again).
func (q *Queries) UpdateWebhookSubscription(ctx context.Context, s parley.WebhookSubscription) error {
	res, err := q.q.ExecContext(ctx, `UPDATE webhook_subscriptions SET url = $3, events = $4, description = $5, active = $6, disabled_reason = $7
		WHERE tenant_id = $1 AND id = $2`, s.TenantID, s.ID, s.URL, encodeJSON(s.Events), s.Description, s.Active, s.DisabledReason)
	if err == nil && s.Active {
		q.hooks.raise()
	}
	return affected(res, err, "webhook subscription")
}

// DeleteWebhookSubscription removes a subscription and its deliveries.
func (q *Queries) DeleteWebhookSubscription(ctx context.Context, tenantID, id string) error {
	if _, err := q.q.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE tenant_id = $1 AND subscription_id = $2`, tenantID, id); err != nil {
		return fmt.Errorf("delete webhook deliveries: %w", err)
	}
	res, err := q.q.ExecContext(ctx, `DELETE FROM webhook_subscriptions WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return affected(res, err, "webhook subscription")
}

// DisableWebhookSubscription switches a subscription off with a reason.
func (q *Queries) DisableWebhookSubscription(ctx context.Context, id, reason string) error {
	_, err := q.q.ExecContext(ctx, `UPDATE webhook_subscriptions SET active = FALSE, disabled_reason = $2 WHERE id = $1`, id, reason)
	return err
}

// AnyActiveWebhookSubscription reports whether any tenant has one: until
// one does, appending an event spends no statement on deliveries.
func (q *Queries) AnyActiveWebhookSubscription(ctx context.Context) (bool, error) {
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM webhook_subscriptions WHERE active LIMIT 1) AS s`).Scan(&n)
	return n > 0, err
}

// hookFlag lets AppendEvent skip the delivery fan-out while no tenant has
// an active subscription. Only on SQLite, where one process owns the
// database and so sees every subscription made: on PostgreSQL another
// replica may make one at any moment, and the fan-out always runs (one
// statement on a small, indexed table) so that no event is missed.
type hookFlag struct {
	exact bool // false on PostgreSQL: always look
	mu    sync.Mutex
	on    atomic.Bool
	gen   int64 // raised by every subscription made or switched on
}

func newHookFlag(engine Engine) *hookFlag {
	f := &hookFlag{exact: engine == SQLite}
	f.on.Store(true) // until the first refresh says otherwise
	return f
}

func (f *hookFlag) active() bool { return f == nil || !f.exact || f.on.Load() }

func (f *hookFlag) raise() {
	if f == nil {
		return
	}
	f.mu.Lock()
	f.gen++
	f.on.Store(true)
	f.mu.Unlock()
}

// RefreshWebhooksActive reads whether any subscription is active, so that
// appending events spends nothing on webhooks until one is. A subscription
// made while it reads keeps the flag on.
func (s *Store) RefreshWebhooksActive(ctx context.Context) error {
	f := s.hooks
	if f == nil || !f.exact {
		return nil
	}
	f.mu.Lock()
	gen := f.gen
	f.mu.Unlock()
	on, err := s.AnyActiveWebhookSubscription(ctx)
	if err != nil {
		return err
	}
	f.mu.Lock()
	if on || f.gen == gen {
		f.on.Store(on)
	}
	f.mu.Unlock()
	return nil
}

// queueDeliveries creates, in the event's transaction, one delivery per
// active subscription of the tenant that wants the event.
func (q *Queries) queueDeliveries(ctx context.Context, evs []pendingEvent) error {
	// One INSERT … SELECT for the batch: each event joined to its tenant's
	// active subscriptions that want it.
	var b strings.Builder
	args := make([]any, 0, 1+4*len(evs))
	args = append(args, micros(q.clock.Now()))
	b.WriteString(`INSERT INTO webhook_deliveries (id, subscription_id, tenant_id, event_id, event_name, status, next_attempt_at, created_at)
		SELECT s.id || ':' || e.column1, s.id, s.tenant_id, e.column1, e.column2, 'pending', $1, $1
		FROM webhook_subscriptions s JOIN (VALUES `)
	for i, pe := range evs {
		if i > 0 {
			b.WriteString(", ")
		}
		k := 1 + 4*i
		fmt.Fprintf(&b, "($%d, $%d, $%d, $%d)", k+1, k+2, k+3, k+4)
		args = append(args, pe.e.ID, pe.e.Name, pe.e.TenantID, `%`+encodeJSON(pe.e.Name)+`%`)
	}
	b.WriteString(`) AS e ON s.tenant_id = e.column3
		WHERE s.active AND (s.events = '["*"]' OR s.events LIKE e.column4)`)
	if _, err := q.q.ExecContext(ctx, b.String(), args...); err != nil {
		return fmt.Errorf("queue webhook deliveries for %s: %w", evs[0].e.Name, err)
	}
	return nil
}

const deliveryCols = `id, subscription_id, event_id, event_name, status, attempts, next_attempt_at, last_status_code, last_response, last_error, created_at, delivered_at`

func scanDelivery(row interface{ Scan(...any) error }) (parley.WebhookDelivery, error) {
	var d parley.WebhookDelivery
	var next, created int64
	var delivered *int64
	err := row.Scan(&d.ID, &d.SubscriptionID, &d.EventID, &d.EventName, &d.Status, &d.Attempts, &next, &d.LastStatusCode, &d.LastResponse, &d.LastError, &created, &delivered)
	if err != nil {
		return d, err
	}
	d.CreatedAt = fromMicros(created)
	if d.Status == parley.DeliveryPending {
		t := fromMicros(next)
		d.NextAttemptAt = &t
	}
	if delivered != nil {
		t := fromMicros(*delivered)
		d.DeliveredAt = &t
	}
	return d, nil
}

// ListWebhookDeliveries pages through a subscription's deliveries, newest first.
func (q *Queries) ListWebhookDeliveries(ctx context.Context, tenantID, subscriptionID string, p Page) ([]parley.WebhookDelivery, string, error) {
	return list(ctx, q, p, scanDelivery, func(d parley.WebhookDelivery) string { return d.ID },
		`SELECT `+deliveryCols+` FROM webhook_deliveries WHERE tenant_id = $1 AND subscription_id = $4 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`, tenantID, subscriptionID)
}

// DueDelivery is a claimed delivery with what sending it needs.
type DueDelivery struct {
	parley.WebhookDelivery
	URL    string
	Secret string
	Event  parley.Event
}

// ClaimWebhookDeliveries takes up to limit deliveries that are due, for
// active subscriptions, and leases them until lease: a process that dies
// holding them leaves them to be taken again then. On PostgreSQL replicas
// skip each other's rows.
func (q *Queries) ClaimWebhookDeliveries(ctx context.Context, limit int, lease time.Time) ([]DueDelivery, error) {
	now := micros(q.clock.Now())
	pick := `SELECT d.id FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id
		WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND s.active ORDER BY d.next_attempt_at LIMIT $2`
	if q.engine == Postgres {
		pick += ` FOR UPDATE OF d SKIP LOCKED`
	}
	rows, err := q.q.QueryContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = $3
		WHERE id IN (`+pick+`) RETURNING id`, now, limit, micros(lease))
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	var ids []any
	var ph []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
		ph = append(ph, fmt.Sprintf("$%d", len(ids)))
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return nil, err
	}
	rows, err = q.q.QueryContext(ctx, `SELECT d.id, d.subscription_id, d.event_id, d.event_name, d.status, d.attempts, d.next_attempt_at,
		d.last_status_code, d.last_response, d.last_error, d.created_at, d.delivered_at, s.url, s.secret,
		e.id, e.tenant_id, e.conversation_id, e.name, e.payload, e.created_at
		FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id JOIN conversation_events e ON e.id = d.event_id
		WHERE d.id IN (`+strings.Join(ph, ", ")+`)`, ids...)
	if err != nil {
		return nil, fmt.Errorf("read claimed webhook deliveries: %w", err)
	}
	defer rows.Close()
	var out []DueDelivery
	for rows.Next() {
		var dd DueDelivery
		var next, created, evCreated int64
		var delivered *int64
		var payload string
		d := &dd.WebhookDelivery
		if err := rows.Scan(&d.ID, &d.SubscriptionID, &d.EventID, &d.EventName, &d.Status, &d.Attempts, &next, &d.LastStatusCode, &d.LastResponse, &d.LastError,
			&created, &delivered, &dd.URL, &dd.Secret, &dd.Event.ID, &dd.Event.TenantID, &dd.Event.ConversationID, &dd.Event.Name, &payload, &evCreated); err != nil {
			return nil, err
		}
		d.CreatedAt, dd.Event.CreatedAt = fromMicros(created), fromMicros(evCreated)
		if err := decodeJSON(payload, &dd.Event.Payload); err != nil {
			return nil, err
		}
		out = append(out, dd)
	}
	return out, rows.Err()
}

// DeliveryResult is the outcome of one attempt.
type DeliveryResult struct {
	ID         string
	Status     string // parley.Delivery…
	StatusCode int
	Response   string
	Error      string
	Next       time.Time // for a pending delivery: its next attempt
}

// RecordWebhookAttempt saves the outcome of one attempt and counts it,
// unless the claim it was made under (lease) was taken over meanwhile: then
// it reports false and changes nothing. (An attempt cut short by a crash is
// not counted: its lease runs out and it is made again.)
func (q *Queries) RecordWebhookAttempt(ctx context.Context, r DeliveryResult, lease time.Time) (bool, error) {
	var delivered any
	if r.Status == parley.DeliveryDelivered {
		delivered = micros(q.clock.Now())
	}
	res, err := q.q.ExecContext(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, status = $2, last_status_code = $3, last_response = $4, last_error = $5,
		next_attempt_at = $6, delivered_at = $7 WHERE id = $1 AND status = 'pending' AND next_attempt_at = $8`,
		r.ID, r.Status, r.StatusCode, r.Response, r.Error, micros(r.Next), delivered, micros(lease))
	if err != nil {
		return false, fmt.Errorf("record webhook attempt: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// WebhookDeliveredSince reports whether the subscription's endpoint took a
// delivery after since: a subscription that still works is not switched
// off for one event it keeps refusing.
func (q *Queries) WebhookDeliveredSince(ctx context.Context, subscriptionID string, since time.Time) (bool, error) {
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM webhook_deliveries
		WHERE subscription_id = $1 AND status = 'delivered' AND delivered_at > $2 LIMIT 1) AS d`, subscriptionID, micros(since)).Scan(&n)
	return n > 0, err
}

// FailPendingWebhookDeliveries gives up the subscription's waiting
// deliveries with reason (it was switched off for failing): switched on
// again, it starts afresh instead of failing on their age at once.
func (q *Queries) FailPendingWebhookDeliveries(ctx context.Context, subscriptionID, reason string) error {
	_, err := q.q.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'failed', last_error = $2 WHERE subscription_id = $1 AND status = 'pending'`,
		subscriptionID, reason)
	return err
}

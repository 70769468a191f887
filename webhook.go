package parley

import "time"

// WebhookSubscription sends a tenant's conversation events, as they are
// logged, to an HTTPS endpoint of the tenant's, signed with Secret.
type WebhookSubscription struct {
	ID       string   `json:"id"`
	TenantID string   `json:"tenant_id"`
	URL      string   `json:"url"`
	Events   []string `json:"events" doc:"Catalog names (parley events) to send, or [\"*\"] for all"`
	// Secret signs every delivery; it is shown once, when the subscription
	// is created.
	Secret      string `json:"secret,omitempty"`
	Description string `json:"description"`
	Active      bool   `json:"active"`
	// DisabledReason says why Parley switched the subscription off (its
	// deliveries kept failing); empty while it is active or was switched off by hand.
	DisabledReason string    `json:"disabled_reason,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

// Wants reports whether the subscription sends events of that name.
func (s WebhookSubscription) Wants(name string) bool {
	for _, e := range s.Events {
		if e == "*" || e == name {
			return true
		}
	}
	return false
}

// Delivery states.
const (
	DeliveryPending   = "pending"   // waiting for its next attempt
	DeliveryDelivered = "delivered" // the endpoint answered 2xx
	DeliveryFailed    = "failed"    // given up after a day of attempts
)

// WebhookDelivery is one event on its way to one subscription.
type WebhookDelivery struct {
	ID             string     `json:"id"`
	SubscriptionID string     `json:"subscription_id"`
	EventID        string     `json:"event_id"`
	EventName      string     `json:"event_name"`
	Status         string     `json:"status" enum:"pending,delivered,failed"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"next_attempt_at,omitempty"`
	LastStatusCode int        `json:"last_status_code,omitempty" doc:"HTTP status of the last attempt; 0 when it got no answer"`
	LastResponse   string     `json:"last_response,omitempty" doc:"First 1 KiB of the endpoint's last answer"`
	LastError      string     `json:"last_error,omitempty" doc:"Why the last attempt failed, when it got no answer"`
	CreatedAt      time.Time  `json:"created_at"`
	DeliveredAt    *time.Time `json:"delivered_at,omitempty"`
}

package parley

import "time"

// Tenant is one business using Parley. Everything else belongs to a tenant.
type Tenant struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Modules         []string        `json:"modules"`  // e.g. APPOINTMENTS
	Features        map[string]bool `json:"features"` // e.g. followups: true
	TimeZone        string          `json:"time_zone"`
	Availability    WeeklyHours     `json:"availability"`
	DefaultLanguage string          `json:"default_language"`
	CreatedAt       time.Time       `json:"created_at"`
}

// Module names a tenant can have switched on.
const (
	ModuleAppointments = "APPOINTMENTS"
)

// Feature flags a tenant can have switched on.
const (
	FeatureFollowUps = "followups"
)

// HasModule reports whether the tenant has the named module.
func (t Tenant) HasModule(name string) bool {
	for _, m := range t.Modules {
		if m == name {
			return true
		}
	}
	return false
}

// WeeklyHours is a weekly schedule in the tenant's time zone, keyed by the
// lower-case English weekday ("monday" … "sunday"). A day with no intervals
// is closed. An empty schedule means always open.
type WeeklyHours map[string][]Interval

// Interval is an opening within one day, as "HH:MM" local times; End is
// exclusive and may be "24:00".
type Interval struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// APIKey is a tenant's credential for /api. Only a hash of the secret is kept.
type APIKey struct {
	ID        string     `json:"id"`
	TenantID  string     `json:"tenant_id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"` // the first characters, to tell keys apart
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

package parley

import "time"

// UserRole is what a dashboard user may do.
type UserRole string

const (
	// UserAdmin may change the tenant's settings, channels and API keys.
	UserAdmin UserRole = "admin"
	// UserAgent works conversations but cannot change settings.
	UserAgent UserRole = "agent"
)

// Valid reports whether r is a known role.
func (r UserRole) Valid() bool { return r == UserAdmin || r == UserAgent }

// User is a person who signs in to the dashboard. E-mail addresses are
// unique across all tenants, so signing in needs no tenant picker.
type User struct {
	ID           string    `json:"id"`
	TenantID     string    `json:"tenant_id"`
	Email        string    `json:"email"` // lower case
	Name         string    `json:"name"`
	Role         UserRole  `json:"role"`
	AgentID      string    `json:"agent_id,omitempty"` // the human agent this user works as, if any
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
}

// Session is a signed-in dashboard browser. Only a hash of its cookie token
// is stored; revoking the row signs the browser out.
type Session struct {
	ID        string     `json:"id"`
	TenantID  string     `json:"tenant_id"`
	UserID    string     `json:"user_id"`
	CSRFToken string     `json:"-"` // sent back with every form of this session
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

package parley

import "time"

// Customer is a person a tenant talks to.
type Customer struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	Phone     string    `json:"phone"` // E.164
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Language  string    `json:"language"`
	CreatedAt time.Time `json:"created_at"`
}

// StaffMember is someone who works for the tenant and can be asked questions
// over WhatsApp (merchant notifications).
type StaffMember struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	Phone     string    `json:"phone"` // E.164
	Name      string    `json:"name"`
	Type      string    `json:"type"` // admin, sales, support, returns, …
	CreatedAt time.Time `json:"created_at"`
}

// StaffAdmin is the staff type every unrouted request falls back to.
const StaffAdmin = "admin"

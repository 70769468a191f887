package parley

import "time"

// Customer is a person a tenant talks to.
type Customer struct {
	ID       string `json:"id"`
	TenantID string `json:"tenant_id"`
	// Phone is the customer's main contact address: an E.164 number, or
	// for a customer known only on Instagram "ig:<IGSID>".
	Phone     string    `json:"phone"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Language  string    `json:"language"`
	CreatedAt time.Time `json:"created_at"`
	// Identities are the other addresses linked to the customer (e.g. an
	// Instagram contact "ig:<IGSID>"); shown by the API's single-customer
	// read.
	Identities []string `json:"identities,omitempty"`
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

// ContactInstagram prefixes an Instagram-scoped id (IGSID) where a contact
// address is kept (Conversation.ContactPhone, a customer's linked
// identities): Instagram contacts have no phone number, and the prefix
// keeps their ids apart from E.164 numbers.
const ContactInstagram = "ig:"

// InstagramContact is the contact address of an Instagram-scoped id.
func InstagramContact(igsid string) string { return ContactInstagram + igsid }

// InstagramID is the Instagram-scoped id of a contact address, and whether
// it is one.
func InstagramID(address string) (string, bool) {
	if len(address) > len(ContactInstagram) && address[:len(ContactInstagram)] == ContactInstagram {
		return address[len(ContactInstagram):], true
	}
	return "", false
}

package parley

import "time"

// AppointmentStatus is where an appointment stands.
type AppointmentStatus string

const (
	AppointmentScheduled AppointmentStatus = "scheduled"
	AppointmentConfirmed AppointmentStatus = "confirmed"
	AppointmentCancelled AppointmentStatus = "cancelled"
	AppointmentCompleted AppointmentStatus = "completed"
	AppointmentNoShow    AppointmentStatus = "no_show"
)

// Appointment is a customer's booking with the business. With the
// APPOINTMENTS module, a customer with an upcoming one gets no follow-ups.
type Appointment struct {
	ID         string            `json:"id"`
	TenantID   string            `json:"tenant_id"`
	CustomerID string            `json:"customer_id"`
	StartsAt   time.Time         `json:"starts_at"`
	Status     AppointmentStatus `json:"status"`
	Notes      string            `json:"notes,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
}

// Upcoming reports whether the appointment is still ahead at now and not
// called off.
func (a Appointment) Upcoming(now time.Time) bool {
	return a.StartsAt.After(now) && (a.Status == AppointmentScheduled || a.Status == AppointmentConfirmed)
}

package store

import (
	"context"
	"fmt"
	"time"

	"github.com/parleyhq/parley"
)

const appointmentCols = `id, tenant_id, customer_id, starts_at, status, notes, created_at`

func scanAppointment(row interface{ Scan(...any) error }) (parley.Appointment, error) {
	var a parley.Appointment
	var starts, created int64
	err := row.Scan(&a.ID, &a.TenantID, &a.CustomerID, &starts, &a.Status, &a.Notes, &created)
	a.StartsAt, a.CreatedAt = fromMicros(starts), fromMicros(created)
	return a, err
}

// CreateAppointment stores a customer's appointment.
func (q *Queries) CreateAppointment(ctx context.Context, a parley.Appointment) (parley.Appointment, error) {
	a.ID, a.CreatedAt = newID(), q.clock.Now()
	_, err := q.q.ExecContext(ctx, `INSERT INTO appointments (`+appointmentCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		a.ID, a.TenantID, a.CustomerID, micros(a.StartsAt), a.Status, a.Notes, micros(a.CreatedAt))
	if err != nil {
		return a, fmt.Errorf("create appointment: %w", err)
	}
	return a, nil
}

// GetAppointment returns one of the tenant's appointments.
func (q *Queries) GetAppointment(ctx context.Context, tenantID, id string) (parley.Appointment, error) {
	a, err := scanAppointment(q.q.QueryRowContext(ctx, `SELECT `+appointmentCols+` FROM appointments WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return a, rowErr(err, "appointment")
}

// ListAppointments pages through the tenant's appointments, of one customer
// when customerID is set.
func (q *Queries) ListAppointments(ctx context.Context, tenantID, customerID string, p Page) ([]parley.Appointment, string, error) {
	return list(ctx, q, p, scanAppointment, func(a parley.Appointment) string { return a.ID },
		`SELECT `+appointmentCols+` FROM appointments WHERE tenant_id = $1 AND ($4 = '' OR customer_id = $4) AND id > $2 ORDER BY id LIMIT $3`, tenantID, customerID)
}

// UpdateAppointment saves an appointment's start time, status and notes.
func (q *Queries) UpdateAppointment(ctx context.Context, a parley.Appointment) error {
	res, err := q.q.ExecContext(ctx, `UPDATE appointments SET starts_at = $3, status = $4, notes = $5 WHERE tenant_id = $1 AND id = $2`,
		a.TenantID, a.ID, micros(a.StartsAt), a.Status, a.Notes)
	return affected(res, err, "appointment")
}

// DeleteAppointment removes an appointment.
func (q *Queries) DeleteAppointment(ctx context.Context, tenantID, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM appointments WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return affected(res, err, "appointment")
}

// AnyAppointment returns one of the customer's appointments on record, past
// or future and whatever its status (the latest), or a not-found error.
func (q *Queries) AnyAppointment(ctx context.Context, tenantID, customerID string) (parley.Appointment, error) {
	a, err := scanAppointment(q.q.QueryRowContext(ctx, `SELECT `+appointmentCols+` FROM appointments
		WHERE tenant_id = $1 AND customer_id = $2 ORDER BY starts_at DESC LIMIT 1`, tenantID, customerID))
	return a, rowErr(err, "appointment")
}

// UpcomingAppointment returns the customer's next appointment after now
// that is still on, or a not-found error.
func (q *Queries) UpcomingAppointment(ctx context.Context, tenantID, customerID string, now time.Time) (parley.Appointment, error) {
	a, err := scanAppointment(q.q.QueryRowContext(ctx, `SELECT `+appointmentCols+` FROM appointments
		WHERE tenant_id = $1 AND customer_id = $2 AND starts_at > $3 AND status IN ('scheduled', 'confirmed') ORDER BY starts_at LIMIT 1`,
		tenantID, customerID, micros(now)))
	return a, rowErr(err, "appointment")
}

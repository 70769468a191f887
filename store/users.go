package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley"
)

// This file holds dashboard users and their sessions. Passwords arrive here
// already hashed and session tokens as hashes: the store never sees a secret.

const userCols = `id, tenant_id, email, name, password_hash, role, agent_id, created_at`

func scanUser(row interface{ Scan(...any) error }) (parley.User, error) {
	var u parley.User
	var agentID sql.NullString
	var created int64
	err := row.Scan(&u.ID, &u.TenantID, &u.Email, &u.Name, &u.PasswordHash, &u.Role, &agentID, &created)
	u.AgentID, u.CreatedAt = agentID.String, fromMicros(created)
	return u, err
}

// CreateUser stores a dashboard user. The e-mail is kept lower-cased; one
// already used (in any tenant) is a conflict.
func (q *Queries) CreateUser(ctx context.Context, u parley.User) (parley.User, error) {
	u.ID, u.CreatedAt = newID(), q.clock.Now()
	u.Email = strings.ToLower(strings.TrimSpace(u.Email))
	_, err := q.q.ExecContext(ctx, `INSERT INTO users (`+userCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		u.ID, u.TenantID, u.Email, u.Name, u.PasswordHash, u.Role, nullString(u.AgentID), micros(u.CreatedAt))
	if err := conflictOr(err, "a user with this e-mail already exists"); err != nil {
		return u, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// UserByEmail finds the user signing in with an address, in whichever
// tenant it belongs to.
func (q *Queries) UserByEmail(ctx context.Context, email string) (parley.User, error) {
	u, err := scanUser(q.q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE email = $1`, strings.ToLower(strings.TrimSpace(email))))
	return u, rowErr(err, "user")
}

// GetUser returns one of the tenant's users.
func (q *Queries) GetUser(ctx context.Context, tenantID, id string) (parley.User, error) {
	u, err := scanUser(q.q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return u, rowErr(err, "user")
}

// ListUsers pages through the tenant's users.
func (q *Queries) ListUsers(ctx context.Context, tenantID string, p Page) ([]parley.User, string, error) {
	return list(ctx, q, p, scanUser, func(u parley.User) string { return u.ID },
		`SELECT `+userCols+` FROM users WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID)
}

const sessionCols = `id, tenant_id, user_id, csrf_token, created_at, expires_at, revoked_at`

func scanSession(row interface{ Scan(...any) error }) (parley.Session, error) {
	var s parley.Session
	var created, expires int64
	var revoked sql.NullInt64
	err := row.Scan(&s.ID, &s.TenantID, &s.UserID, &s.CSRFToken, &created, &expires, &revoked)
	s.CreatedAt, s.ExpiresAt, s.RevokedAt = fromMicros(created), fromMicros(expires), fromNullMicros(revoked)
	return s, err
}

// CreateSession stores a session under the hash of its cookie token.
func (q *Queries) CreateSession(ctx context.Context, s parley.Session, tokenHash string) (parley.Session, error) {
	s.ID, s.CreatedAt = newID(), q.clock.Now()
	_, err := q.q.ExecContext(ctx, `INSERT INTO dashboard_sessions (id, token_hash, tenant_id, user_id, csrf_token, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		s.ID, tokenHash, s.TenantID, s.UserID, s.CSRFToken, micros(s.CreatedAt), micros(s.ExpiresAt))
	if err != nil {
		return s, fmt.Errorf("create session: %w", err)
	}
	return s, nil
}

// SessionByToken resolves a cookie token's hash to a live session and its
// user. A revoked, expired or unknown session is not found.
func (q *Queries) SessionByToken(ctx context.Context, tokenHash string, now time.Time) (parley.Session, parley.User, error) {
	row := q.q.QueryRowContext(ctx, `SELECT s.id, s.tenant_id, s.user_id, s.csrf_token, s.created_at, s.expires_at, s.revoked_at,
		u.id, u.tenant_id, u.email, u.name, u.password_hash, u.role, u.agent_id, u.created_at
		FROM dashboard_sessions s JOIN users u ON u.id = s.user_id AND u.tenant_id = s.tenant_id
		WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2`, tokenHash, micros(now))
	var s parley.Session
	var u parley.User
	var created, expires, userCreated int64
	var revoked sql.NullInt64
	var agentID sql.NullString
	err := row.Scan(&s.ID, &s.TenantID, &s.UserID, &s.CSRFToken, &created, &expires, &revoked,
		&u.ID, &u.TenantID, &u.Email, &u.Name, &u.PasswordHash, &u.Role, &agentID, &userCreated)
	if err != nil {
		return s, u, rowErr(err, "session")
	}
	s.CreatedAt, s.ExpiresAt, s.RevokedAt = fromMicros(created), fromMicros(expires), fromNullMicros(revoked)
	u.AgentID, u.CreatedAt = agentID.String, fromMicros(userCreated)
	return s, u, nil
}

// RevokeSession signs one session out. Revoking twice is not an error.
func (q *Queries) RevokeSession(ctx context.Context, tenantID, id string) error {
	res, err := q.q.ExecContext(ctx, `UPDATE dashboard_sessions SET revoked_at = COALESCE(revoked_at, $3) WHERE tenant_id = $1 AND id = $2`,
		tenantID, id, micros(q.clock.Now()))
	return affected(res, err, "session")
}

// RevokeUserSessions signs a user out everywhere, e.g. after a password change.
func (q *Queries) RevokeUserSessions(ctx context.Context, tenantID, userID string) error {
	_, err := q.q.ExecContext(ctx, `UPDATE dashboard_sessions SET revoked_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL`,
		tenantID, userID, micros(q.clock.Now()))
	if err != nil {
		return fmt.Errorf("revoke sessions: %w", err)
	}
	return nil
}

// ListSessions lists a user's sessions, newest first, live or not.
func (q *Queries) ListSessions(ctx context.Context, tenantID, userID string) ([]parley.Session, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+sessionCols+` FROM dashboard_sessions WHERE tenant_id = $1 AND user_id = $2 ORDER BY id DESC LIMIT 100`, tenantID, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []parley.Session{}
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

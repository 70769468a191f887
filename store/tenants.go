package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"github.com/parleyhq/parley"
)

const tenantCols = `id, name, modules, features, time_zone, availability, default_language, created_at`

func scanTenant(row interface{ Scan(...any) error }) (parley.Tenant, error) {
	var t parley.Tenant
	var modules, features, avail string
	var created int64
	if err := row.Scan(&t.ID, &t.Name, &modules, &features, &t.TimeZone, &avail, &t.DefaultLanguage, &created); err != nil {
		return t, err
	}
	t.CreatedAt = fromMicros(created)
	if err := decodeJSON(modules, &t.Modules); err != nil {
		return t, err
	}
	if err := decodeJSON(features, &t.Features); err != nil {
		return t, err
	}
	if err := decodeJSON(avail, &t.Availability); err != nil {
		return t, err
	}
	if t.Modules == nil {
		t.Modules = []string{}
	}
	if t.Features == nil {
		t.Features = map[string]bool{}
	}
	if t.Availability == nil {
		t.Availability = parley.WeeklyHours{}
	}
	return t, nil
}

// CreateTenant stores a new tenant; ID and CreatedAt are set here.
func (q *Queries) CreateTenant(ctx context.Context, t parley.Tenant) (parley.Tenant, error) {
	t.ID = newID()
	t.CreatedAt = q.clock.Now()
	if t.TimeZone == "" {
		t.TimeZone = "UTC"
	}
	if t.DefaultLanguage == "" {
		t.DefaultLanguage = "en"
	}
	if t.Modules == nil {
		t.Modules = []string{}
	}
	if t.Features == nil {
		t.Features = map[string]bool{}
	}
	if t.Availability == nil {
		t.Availability = parley.WeeklyHours{}
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO tenants (`+tenantCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		t.ID, t.Name, encodeJSON(t.Modules), encodeJSON(t.Features), t.TimeZone, encodeJSON(t.Availability), t.DefaultLanguage, micros(t.CreatedAt))
	if err != nil {
		return t, fmt.Errorf("create tenant: %w", err)
	}
	// A new tenant sends the built-in templates until it maps its own.
	if err := q.PutDefaultTemplateMappings(ctx, t.ID); err != nil {
		return t, fmt.Errorf("create tenant: %w", err)
	}
	return t, nil
}

// GetTenant returns one tenant.
func (q *Queries) GetTenant(ctx context.Context, id string) (parley.Tenant, error) {
	t, err := scanTenant(q.q.QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = $1`, id))
	return t, rowErr(err, "tenant")
}

// UpdateTenant saves the tenant's settings (everything but id and created_at).
func (q *Queries) UpdateTenant(ctx context.Context, t parley.Tenant) error {
	res, err := q.q.ExecContext(ctx, `UPDATE tenants SET name = $2, modules = $3, features = $4, time_zone = $5, availability = $6, default_language = $7 WHERE id = $1`,
		t.ID, t.Name, encodeJSON(t.Modules), encodeJSON(t.Features), t.TimeZone, encodeJSON(t.Availability), t.DefaultLanguage)
	return affected(res, err, "tenant")
}

// affected turns "no row changed" into a not-found error.
func affected(res sql.Result, err error, what string) error {
	if err != nil {
		if isUniqueViolation(err) {
			return &parley.Error{Code: parley.CodeConflict, Message: what + " already exists"}
		}
		return fmt.Errorf("update %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(what)
	}
	return nil
}

// isUniqueViolation reports a unique-constraint failure on either engine.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		// SQLITE_CONSTRAINT_UNIQUE (2067) and SQLITE_CONSTRAINT_PRIMARYKEY (1555).
		return sqErr.Code() == 2067 || sqErr.Code() == 1555
	}
	return false
}

// conflictOr maps a unique violation to a conflict error naming what exists.
func conflictOr(err error, what string) error {
	if err == nil {
		return nil
	}
	if isUniqueViolation(err) {
		return &parley.Error{Code: parley.CodeConflict, Message: what}
	}
	return err
}

// APIKeyPrefix starts every Parley API key, so leaked keys are recognizable.
const APIKeyPrefix = "pk_"

// hashKey is how API keys are kept: they are long random strings, so a fast
// hash is enough (no password-style KDF needed).
func hashKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// CreateAPIKey makes a new key for the tenant and returns it with its secret,
// which is shown once and never stored.
func (q *Queries) CreateAPIKey(ctx context.Context, tenantID, name string) (parley.APIKey, string, error) {
	var raw [20]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return parley.APIKey{}, "", err
	}
	secret := APIKeyPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw[:]))
	k := parley.APIKey{ID: newID(), TenantID: tenantID, Name: name, Prefix: secret[:10], CreatedAt: q.clock.Now()}
	_, err := q.q.ExecContext(ctx, `INSERT INTO api_keys (id, tenant_id, name, prefix, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		k.ID, k.TenantID, k.Name, k.Prefix, hashKey(secret), micros(k.CreatedAt))
	if err != nil {
		return k, "", fmt.Errorf("create api key: %w", err)
	}
	return k, secret, nil
}

// TenantByAPIKey resolves a presented secret to its tenant. A revoked or
// unknown key is not found.
func (q *Queries) TenantByAPIKey(ctx context.Context, secret string) (parley.Tenant, error) {
	t, err := scanTenant(q.q.QueryRowContext(ctx, `SELECT t.id, t.name, t.modules, t.features, t.time_zone, t.availability, t.default_language, t.created_at
		FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.hash = $1 AND k.revoked_at IS NULL`, hashKey(secret)))
	return t, rowErr(err, "api key")
}

// ListAPIKeys lists the tenant's keys, revoked ones included.
func (q *Queries) ListAPIKeys(ctx context.Context, tenantID string) ([]parley.APIKey, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT id, tenant_id, name, prefix, created_at, revoked_at FROM api_keys WHERE tenant_id = $1 ORDER BY id`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	keys := []parley.APIKey{}
	for rows.Next() {
		var k parley.APIKey
		var created int64
		var revoked sql.NullInt64
		if err := rows.Scan(&k.ID, &k.TenantID, &k.Name, &k.Prefix, &created, &revoked); err != nil {
			return nil, err
		}
		k.CreatedAt, k.RevokedAt = fromMicros(created), fromNullMicros(revoked)
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// RevokeAPIKey stops a key from working. Revoking twice is not an error.
func (q *Queries) RevokeAPIKey(ctx context.Context, tenantID, id string) error {
	now := q.clock.Now()
	res, err := q.q.ExecContext(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) WHERE tenant_id = $1 AND id = $2`, tenantID, id, micros(now))
	return affected(res, err, "api key")
}

// ListAPIKeysPage pages through the tenant's API keys, revoked ones included.
func (q *Queries) ListAPIKeysPage(ctx context.Context, tenantID string, p Page) ([]parley.APIKey, string, error) {
	return list(ctx, q, p, scanAPIKey, func(k parley.APIKey) string { return k.ID },
		`SELECT id, tenant_id, name, prefix, created_at, revoked_at FROM api_keys WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID)
}

func scanAPIKey(row interface{ Scan(...any) error }) (parley.APIKey, error) {
	var k parley.APIKey
	var created int64
	var revoked sql.NullInt64
	err := row.Scan(&k.ID, &k.TenantID, &k.Name, &k.Prefix, &created, &revoked)
	k.CreatedAt, k.RevokedAt = fromMicros(created), fromNullMicros(revoked)
	return k, err
}

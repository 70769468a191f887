-- Dashboard users and their sign-in sessions.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    -- Lower-cased and unique across tenants: signing in needs only the address.
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    agent_id      TEXT REFERENCES agents(id) ON DELETE SET NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX users_tenant ON users (tenant_id, id);

-- A session row per signed-in browser. The cookie carries a random token;
-- only its SHA-256 is kept, so a database leak gives no usable cookies.
CREATE TABLE dashboard_sessions (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX dashboard_sessions_user ON dashboard_sessions (tenant_id, user_id);

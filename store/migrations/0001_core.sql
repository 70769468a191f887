-- Core model. One text for both engines: ids are UUID text, times are Unix
-- microseconds (BIGINT) so comparisons and indexes behave the same on SQLite
-- and PostgreSQL, and JSON is kept as text.

CREATE TABLE tenants (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    modules          TEXT NOT NULL DEFAULT '[]',
    features         TEXT NOT NULL DEFAULT '{}',
    time_zone        TEXT NOT NULL DEFAULT 'UTC',
    availability     TEXT NOT NULL DEFAULT '{}',
    default_language TEXT NOT NULL DEFAULT 'en',
    created_at       BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, id);

CREATE TABLE channels (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    type            TEXT NOT NULL,
    name            TEXT NOT NULL,
    -- Meta routes webhooks by phone_number_id, which is unique worldwide.
    phone_number_id TEXT UNIQUE,
    display_number  TEXT NOT NULL DEFAULT '',
    access_token    TEXT NOT NULL DEFAULT '',
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    test_senders    TEXT NOT NULL DEFAULT '[]',
    settings        TEXT NOT NULL DEFAULT '{}',
    created_at      BIGINT NOT NULL
);
CREATE INDEX channels_tenant ON channels (tenant_id, id);

CREATE TABLE customers (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    phone      TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    email      TEXT NOT NULL DEFAULT '',
    language   TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, phone)
);
CREATE INDEX customers_tenant ON customers (tenant_id, id);

CREATE TABLE staff_members (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    phone      TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    type       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, phone)
);
CREATE INDEX staff_members_tenant ON staff_members (tenant_id, id);

CREATE TABLE agents (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL DEFAULT '',
    available  BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL
);
CREATE INDEX agents_tenant ON agents (tenant_id, id);

CREATE TABLE conversations (
    id                       TEXT PRIMARY KEY,
    tenant_id                TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind                     TEXT NOT NULL DEFAULT 'customer',
    status                   TEXT NOT NULL DEFAULT 'open',
    customer_id              TEXT REFERENCES customers(id) ON DELETE SET NULL,
    staff_member_id          TEXT REFERENCES staff_members(id) ON DELETE SET NULL,
    contact_phone            TEXT NOT NULL,
    channel_id               TEXT REFERENCES channels(id) ON DELETE SET NULL,
    language                 TEXT NOT NULL DEFAULT '',
    session_started_at       BIGINT NOT NULL,
    last_customer_message_at BIGINT,
    last_agent_message_at    BIGINT,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL
);
CREATE INDEX conversations_tenant ON conversations (tenant_id, id);
CREATE INDEX conversations_contact ON conversations (tenant_id, contact_phone, status);

CREATE TABLE messages (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    conversation_id    TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role               TEXT NOT NULL,
    type               TEXT NOT NULL DEFAULT 'text',
    content            TEXT NOT NULL DEFAULT '',
    channel_id         TEXT,
    channel_message_id TEXT,
    status             TEXT NOT NULL,
    error_code         TEXT NOT NULL DEFAULT '',
    error_reason       TEXT NOT NULL DEFAULT '',
    template           TEXT,
    extra              TEXT,
    created_at         BIGINT NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, created_at, id);
-- A provider's message id names one message: statuses find it, redeliveries collide on it.
CREATE UNIQUE INDEX messages_channel_message ON messages (channel_id, channel_message_id);

CREATE TABLE conversation_events (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    payload         TEXT NOT NULL DEFAULT '{}',
    created_at      BIGINT NOT NULL
);
CREATE INDEX conversation_events_conversation ON conversation_events (conversation_id, created_at, id);

CREATE TABLE documents (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL DEFAULT '',
    category   TEXT NOT NULL DEFAULT '',
    source     TEXT NOT NULL DEFAULT 'manual',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX documents_tenant ON documents (tenant_id, id);
CREATE INDEX documents_category ON documents (tenant_id, category, id);

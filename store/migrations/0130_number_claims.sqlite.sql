-- parley:foreign-keys-off
-- A phone_number_id may be claimed by several tenants: webhooks go to the
-- claim whose token was shown to own the number, so a first claim with a
-- token that does not own it must not lock the real owner out (issue 15).
-- Within one tenant a number is still named once. SQLite cannot drop a
-- column's UNIQUE, so the table is rebuilt (with foreign keys off, or the
-- DROP would cascade into the inbox and conversations).
CREATE TABLE channels_new (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    type            TEXT NOT NULL,
    name            TEXT NOT NULL,
    phone_number_id TEXT,
    display_number  TEXT NOT NULL DEFAULT '',
    access_token    TEXT NOT NULL DEFAULT '',
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    test_senders    TEXT NOT NULL DEFAULT '[]',
    settings        TEXT NOT NULL DEFAULT '{}',
    created_at      BIGINT NOT NULL
);
INSERT INTO channels_new (id, tenant_id, type, name, phone_number_id, display_number, access_token, active, test_senders, settings, created_at)
    SELECT id, tenant_id, type, name, phone_number_id, display_number, access_token, active, test_senders, settings, created_at FROM channels;
DROP TABLE channels;
ALTER TABLE channels_new RENAME TO channels;
CREATE INDEX channels_tenant ON channels (tenant_id, id);
CREATE INDEX channels_phone_number ON channels (phone_number_id);
CREATE UNIQUE INDEX channels_tenant_phone_number ON channels (tenant_id, phone_number_id);

-- Messages for a number no tenant has proven to own wait here, unrouted,
-- until a claim's check succeeds (then they move to its inbox) or they age
-- out. The unique key dedupes Meta's redeliveries.
CREATE TABLE number_holds (
    id                  TEXT PRIMARY KEY,
    phone_number_id     TEXT NOT NULL,
    provider_message_id TEXT NOT NULL,
    message             TEXT NOT NULL,
    received_at         BIGINT NOT NULL,
    UNIQUE (phone_number_id, provider_message_id)
);
CREATE INDEX number_holds_received ON number_holds (received_at);

-- A phone_number_id may be claimed by several tenants: webhooks go to the
-- claim whose token was shown to own the number, so a first claim with a
-- token that does not own it must not lock the real owner out (issue 15).
-- Within one tenant a number is still named once.
ALTER TABLE channels DROP CONSTRAINT IF EXISTS channels_phone_number_id_key;
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

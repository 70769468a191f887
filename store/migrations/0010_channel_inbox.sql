-- The channel inbox: every inbound message a provider delivered, as it
-- arrived, before the conversation flow took it. A webhook stores its
-- messages here and enqueues the job that works them in one transaction.
-- The unique key is the dedupe: Meta and Twilio deliver at least once, and
-- two deliveries of one message racing each other insert one row (the
-- second INSERT ... ON CONFLICT DO NOTHING waits for the first, then does
-- nothing), so only one job ever works a provider message.
CREATE TABLE channel_inbox (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    channel_id          TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    provider_message_id TEXT NOT NULL,
    sender              TEXT NOT NULL DEFAULT '',
    contact_name        TEXT NOT NULL DEFAULT '',
    type                TEXT NOT NULL,
    content             TEXT NOT NULL DEFAULT '',
    extra               TEXT,
    sent_at             BIGINT NOT NULL,
    received_at         BIGINT NOT NULL,
    processed_at        BIGINT,
    outcome             TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX channel_inbox_provider ON channel_inbox (channel_id, provider_message_id);
CREATE INDEX channel_inbox_received ON channel_inbox (received_at);

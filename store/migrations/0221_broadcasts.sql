-- Broadcasts: one approved template sent to a segment of a tenant's
-- customers, paced, within its availability hours. Each recipient is a row
-- taken at creation; the pacer moves rows from pending to queued in the
-- transaction that queues their message, so a crash never sends twice.
CREATE TABLE broadcasts (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    channel_id      TEXT NOT NULL,
    template_name   TEXT NOT NULL,
    language        TEXT NOT NULL,
    category        TEXT NOT NULL DEFAULT '',
    parameters      TEXT NOT NULL DEFAULT '[]',
    segment         TEXT NOT NULL DEFAULT '{}',
    rate_per_second INTEGER NOT NULL,
    status          TEXT NOT NULL,
    total           INTEGER NOT NULL DEFAULT 0,
    scheduled_at    BIGINT NOT NULL,
    -- when the pacer may send the next batch: the schedule, then each
    -- batch's end by the rate, or the next opening of the hours.
    next_send_at    BIGINT NOT NULL,
    started_at      BIGINT,
    finished_at     BIGINT,
    cancelled_at    BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX broadcasts_tenant ON broadcasts (tenant_id, id);
CREATE INDEX broadcasts_due ON broadcasts (status, next_send_at);

-- state: pending, queued (its message is message_id), opted_out, skipped,
-- cancelled. What became of a queued message (sent, delivered, read,
-- failed, replied) is read from the message and the conversation.
CREATE TABLE broadcast_recipients (
    broadcast_id    TEXT NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    tenant_id       TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    phone           TEXT NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    language        TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL DEFAULT 'pending',
    reason          TEXT NOT NULL DEFAULT '',
    conversation_id TEXT NOT NULL DEFAULT '',
    message_id      TEXT NOT NULL DEFAULT '',
    queued_at       BIGINT,
    PRIMARY KEY (broadcast_id, seq)
);
CREATE UNIQUE INDEX broadcast_recipients_customer ON broadcast_recipients (broadcast_id, customer_id);
CREATE INDEX broadcast_recipients_state ON broadcast_recipients (broadcast_id, state, seq);

-- Customers who wrote an opt-out word: never sent a broadcast again.
-- confirmation_id is the one message that told them so.
CREATE TABLE opt_outs (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    phone           TEXT NOT NULL,
    word            TEXT NOT NULL,
    conversation_id TEXT NOT NULL DEFAULT '',
    confirmation_id TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, phone)
);

-- What a segment selects on: a customer's tags and marketing consent.
CREATE TABLE customer_tags (
    tenant_id   TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    tag         TEXT NOT NULL,
    PRIMARY KEY (customer_id, tag)
);
CREATE INDEX customer_tags_tag ON customer_tags (tenant_id, tag);

CREATE TABLE customer_consents (
    customer_id TEXT PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL,
    opted_in    BOOLEAN NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- A tenant's broadcast settings; no row means the defaults.
CREATE TABLE broadcast_settings (
    tenant_id       TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    opt_out_words   TEXT NOT NULL DEFAULT '[]',
    opt_out_reply   TEXT NOT NULL DEFAULT '',
    rate_per_second INTEGER NOT NULL DEFAULT 0,
    prices          TEXT NOT NULL DEFAULT '{}',
    updated_at      BIGINT NOT NULL
);

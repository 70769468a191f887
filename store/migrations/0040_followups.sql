-- Follow-ups: rules per tenant, the decisions they made per conversation
-- session, the due-time index the safety-net scan reads, and appointments
-- (a business rule: no follow-up while one is coming up).

CREATE TABLE followup_rules (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    message      TEXT NOT NULL DEFAULT '',
    generate     BOOLEAN NOT NULL DEFAULT FALSE,
    delay        BIGINT NOT NULL,            -- microseconds after the last agent message
    reply_window BIGINT NOT NULL,            -- microseconds a reply counts as answering the follow-up
    survey       TEXT NOT NULL DEFAULT '',   -- '', csat, nps, yes_no
    channel_ids  TEXT NOT NULL DEFAULT '[]',
    template     TEXT,                       -- JSON template for outside the 24-hour window
    active       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX followup_rules_tenant ON followup_rules (tenant_id, id);

-- One row per rule decision (sent or skipped) in a conversation session. The
-- unique key is what makes a rule fire at most once per session, even with
-- several processes working the same conversation at once.
CREATE TABLE followups (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    rule_id            TEXT NOT NULL REFERENCES followup_rules(id) ON DELETE CASCADE,
    conversation_id    TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    session_started_at BIGINT NOT NULL,
    outcome            TEXT NOT NULL,        -- sent or skipped
    reason             TEXT NOT NULL DEFAULT '',
    message_id         TEXT,
    survey             TEXT NOT NULL DEFAULT '',
    reply_window       BIGINT NOT NULL DEFAULT 0,
    replied_at         BIGINT,
    answer             TEXT,
    score              INTEGER,
    answered_at        BIGINT,
    created_at         BIGINT NOT NULL,
    UNIQUE (rule_id, conversation_id, session_started_at)
);
CREATE INDEX followups_rule ON followups (rule_id, outcome);
CREATE INDEX followups_conversation ON followups (conversation_id, created_at);

-- Conversations whose last message is an agent's and that have a rule still
-- to decide, by when the next one falls due. The periodic scan reads this
-- index only, so its cost follows the number due, not the number stored.
CREATE TABLE followup_due (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    tenant_id       TEXT NOT NULL,
    due_at          BIGINT NOT NULL,
    swept_at        BIGINT
);
CREATE INDEX followup_due_at ON followup_due (due_at);

CREATE TABLE appointments (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    starts_at   BIGINT NOT NULL,
    status      TEXT NOT NULL,
    notes       TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);
CREATE INDEX appointments_tenant ON appointments (tenant_id, id);
CREATE INDEX appointments_customer ON appointments (customer_id, starts_at);

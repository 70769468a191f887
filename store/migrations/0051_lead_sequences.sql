-- Delivering lead follow-ups: a sequence of steps (one River job each), the
-- lead's event log, and the notifications and banners shown to visitors.

CREATE TABLE lead_sequences (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    lead_id          TEXT NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    site_id          TEXT NOT NULL,
    visitor_id       TEXT,
    command_id       TEXT NOT NULL,
    status           TEXT NOT NULL,
    interval_text    TEXT NOT NULL,
    interval_seconds BIGINT NOT NULL,
    phone            TEXT NOT NULL DEFAULT '',
    email            TEXT NOT NULL DEFAULT '',
    messages         TEXT NOT NULL DEFAULT '{}',
    stop_reason      TEXT NOT NULL DEFAULT '',
    started_at       BIGINT NOT NULL,
    ended_at         BIGINT
);
CREATE INDEX lead_sequences_lead ON lead_sequences (tenant_id, lead_id, id);
-- A lead has at most one active sequence: two schedules at once cannot both win.
CREATE UNIQUE INDEX lead_sequences_one_active ON lead_sequences (tenant_id, lead_id) WHERE status = 'active';

CREATE TABLE lead_sequence_steps (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    sequence_id TEXT NOT NULL REFERENCES lead_sequences(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    channel     TEXT NOT NULL,
    status      TEXT NOT NULL,
    due_at      BIGINT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    done_at     BIGINT,
    UNIQUE (sequence_id, position)
);

CREATE TABLE lead_events (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    lead_id     TEXT NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    sequence_id TEXT,
    name        TEXT NOT NULL,
    payload     TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL
);
CREATE INDEX lead_events_lead ON lead_events (tenant_id, lead_id, id);

CREATE TABLE visitor_messages (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    site_id      TEXT NOT NULL,
    visitor_id   TEXT NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    lead_id      TEXT NOT NULL,
    sequence_id  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    title        TEXT NOT NULL,
    message      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    withdrawn_at BIGINT
);
CREATE INDEX visitor_messages_visitor ON visitor_messages (tenant_id, visitor_id, kind, id);

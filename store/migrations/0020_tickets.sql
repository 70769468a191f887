-- Human handoff. A ticket holds a conversation for the tenant's human agents;
-- at most one is open per conversation, so two escalations at once open one.
CREATE TABLE tickets (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    status          TEXT NOT NULL DEFAULT 'open',
    -- NULL while the ticket waits in the queue (no agent was available);
    -- an agent's deletion puts their tickets back in the queue.
    agent_id        TEXT REFERENCES agents(id) ON DELETE SET NULL,
    reason          TEXT NOT NULL DEFAULT '',
    assigned_at     BIGINT,
    closed_at       BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX tickets_tenant ON tickets (tenant_id, id);
CREATE INDEX tickets_queue ON tickets (tenant_id, status, agent_id, id);
CREATE UNIQUE INDEX tickets_one_open ON tickets (conversation_id) WHERE status = 'open';

-- Round robin: the available agent assigned longest ago goes next.
ALTER TABLE agents ADD COLUMN last_assigned_at BIGINT;

-- The answer ledger: one row per customer message the flow has answered (by
-- the AI, a holding reply, or a ticket). Its key is what makes the AI agent's
-- job answer a message at most once, however often the job runs.
CREATE TABLE answered_messages (
    message_id        TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    conversation_id   TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    outcome           TEXT NOT NULL,
    answer_message_id TEXT,
    ticket_id         TEXT,
    created_at        BIGINT NOT NULL
);
CREATE INDEX answered_messages_conversation ON answered_messages (conversation_id, message_id);

-- The inbound half of the message path works in batched stages (package
-- stage): the rows are the stages' state, each claim a short lease.
--
-- Receive stage: an unprocessed inbox row is ready when it has no lease or
-- its lease ran out; claim names the turn that holds it, so only that turn
-- marks it processed. A killed process's rows are ready again after the
-- lease, for any process.
ALTER TABLE channel_inbox ADD COLUMN lease_until BIGINT;
ALTER TABLE channel_inbox ADD COLUMN claim TEXT;
ALTER TABLE channel_inbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
CREATE INDEX channel_inbox_ready ON channel_inbox (id) WHERE processed_at IS NULL;

-- Answer stage: one row per conversation that has a message for the AI
-- agent to answer, written in the commit that routed the message (or added
-- a context note). It names the newest such message; an answer in progress
-- for an older one is dropped at its commit. Deleted in the commit of the
-- answer (by the claim that made it) or when nothing is left to answer.
CREATE TABLE answer_queue (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    tenant_id       TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    queued_at       BIGINT NOT NULL,
    lease_until     BIGINT,
    claim           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX answer_queue_ready ON answer_queue (queued_at);

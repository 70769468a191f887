-- Merchant notifications: a customer's question or support request put to
-- the tenant's staff. number is a per-tenant sequence that staff see as
-- NOTIF_<number>. A single-answer notification is answered by the one
-- UPDATE that finds it still 'requested' (see AnswerNotification).
CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    number          BIGINT NOT NULL,
    type            TEXT NOT NULL,
    status          TEXT NOT NULL,
    conversation_id TEXT REFERENCES conversations(id) ON DELETE SET NULL,
    document_id     TEXT REFERENCES documents(id) ON DELETE SET NULL,
    requested       TEXT NOT NULL DEFAULT '{}',
    answered        TEXT,
    target_type     TEXT NOT NULL DEFAULT '',
    request_type    TEXT NOT NULL DEFAULT '',
    answer_schema   TEXT NOT NULL DEFAULT '{}',
    allow_multiple  BOOLEAN NOT NULL DEFAULT FALSE,
    recipients      TEXT NOT NULL DEFAULT '[]',
    answered_by     TEXT NOT NULL DEFAULT '',
    answered_at     BIGINT,
    answers         INTEGER NOT NULL DEFAULT 0,
    delivered       INTEGER NOT NULL DEFAULT 0,
    delivered_via   TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (tenant_id, number)
);
CREATE INDEX notifications_tenant ON notifications (tenant_id, id);
CREATE INDEX notifications_status ON notifications (tenant_id, status, id);
CREATE INDEX notifications_document ON notifications (tenant_id, document_id);

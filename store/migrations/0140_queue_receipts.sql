-- Follow-Up Requests taken from an outside queue (SQS, NATS JetStream), by
-- the queue's own message id. A redelivered message finds its receipt and
-- is acknowledged without being processed again.
CREATE TABLE queue_receipts (
    source          TEXT   NOT NULL,
    message_id      TEXT   NOT NULL,
    conversation_id TEXT   NOT NULL,
    job_id          BIGINT,
    received_at     BIGINT NOT NULL,
    PRIMARY KEY (source, message_id)
);
CREATE INDEX queue_receipts_received ON queue_receipts (received_at);

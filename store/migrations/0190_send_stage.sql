-- The send stage: a queued outbound message is its own work item. A send
-- loop claims ready messages with a lease (send_attempt holds the claim's
-- token, send_lease_until its end); send_started_at stays the mark that a
-- holder called the provider. Retries wait in send_next_at and count in
-- send_attempts. Every queued message is ready at once (send_next_at 0).
ALTER TABLE messages ADD COLUMN send_lease_until BIGINT;
ALTER TABLE messages ADD COLUMN send_next_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN send_attempts INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_send_ready ON messages (send_next_at) WHERE status = 'queued' AND channel_message_id IS NULL;

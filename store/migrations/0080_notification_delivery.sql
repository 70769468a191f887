-- What happened to a notification's answer on its way to the customer:
-- delivery_status is queued (a message was queued: its own status, read
-- through delivery_message_id, says sent, delivered, read or failed) or
-- skipped (no message could be queued; delivery_reason says why).
ALTER TABLE notifications ADD COLUMN delivery_status TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN delivery_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN delivery_message_id TEXT;

-- Seed 000: the AI writes follow-ups (from the rule's message, the customer
-- and the history) whenever a model is configured; a rule can opt out and
-- send its message as written. Existing rules follow the seed's default.
ALTER TABLE followup_rules ADD COLUMN send_as_written BOOLEAN NOT NULL DEFAULT FALSE;

-- Live follow-up rules: a rule created, reactivated, given a new channel or
-- a shorter delay reaches the conversations already silent. This index
-- finds them (open customer conversations whose last message is the
-- agent's, per channel, by when the agent wrote) for the rule's back-fill
-- job and its preview counts, without reading the whole table.
CREATE INDEX conversations_followup_silent ON conversations (tenant_id, channel_id, last_agent_message_at)
    WHERE status = 'open' AND kind = 'customer' AND last_agent_message_at IS NOT NULL;

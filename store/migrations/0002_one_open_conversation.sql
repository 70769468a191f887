-- A contact has at most one open conversation of a kind per tenant, so two
-- messages processed at once cannot open two conversations.
CREATE UNIQUE INDEX conversations_one_open ON conversations (tenant_id, kind, contact_phone) WHERE status = 'open';

-- A customer's other contact addresses: an Instagram-scoped id
-- ("ig:<IGSID>") linked to a customer known by phone, so one customer
-- record covers WhatsApp and Instagram. A customer's own phone column keeps
-- its main address (an Instagram-only customer's is "ig:<IGSID>"); an
-- address is one customer's in a tenant.
CREATE TABLE customer_identities (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    address     TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, address)
);
CREATE INDEX customer_identities_customer ON customer_identities (customer_id);

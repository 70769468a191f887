-- What each tenant spent of the operator's shared resources, per calendar
-- month (UTC, "2026-12"): LLM tokens and WhatsApp template sends. The
-- tenant "operator" holds LLM calls made without a tenant.
CREATE TABLE tenant_usage (
    tenant_id         TEXT NOT NULL,
    month             TEXT NOT NULL,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    llm_requests      BIGINT NOT NULL DEFAULT 0,
    template_sends    BIGINT NOT NULL DEFAULT 0,
    updated_at        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, month)
);

-- Monthly limits the operator sets per tenant (parley tenant budget); 0 is
-- no limit.
CREATE TABLE tenant_budgets (
    tenant_id      TEXT PRIMARY KEY REFERENCES tenants (id),
    llm_tokens     BIGINT NOT NULL DEFAULT 0,
    template_sends BIGINT NOT NULL DEFAULT 0,
    updated_at     BIGINT NOT NULL
);

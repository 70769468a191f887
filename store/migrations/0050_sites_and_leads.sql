-- Lead follow-up model: sites, their leads, visitors, sales representatives
-- (site users), AI personas (site agents) and the commands they run.

CREATE TABLE sites (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    url                 TEXT NOT NULL DEFAULT '',
    smtp_host           TEXT NOT NULL DEFAULT '',
    smtp_port           INTEGER NOT NULL DEFAULT 0,
    smtp_username       TEXT NOT NULL DEFAULT '',
    smtp_password       TEXT NOT NULL DEFAULT '',
    smtp_tls            TEXT NOT NULL DEFAULT 'starttls',
    email_from          TEXT NOT NULL DEFAULT '',
    email_from_name     TEXT NOT NULL DEFAULT '',
    whatsapp_channel_id TEXT REFERENCES channels(id) ON DELETE SET NULL,
    whatsapp_template   TEXT,
    site_key            TEXT NOT NULL UNIQUE,
    created_at          BIGINT NOT NULL
);
CREATE INDEX sites_tenant ON sites (tenant_id, id);

CREATE TABLE leads (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    site_id      TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    visitor_id   TEXT,
    name         TEXT NOT NULL DEFAULT '',
    company      TEXT NOT NULL DEFAULT '',
    position     TEXT NOT NULL DEFAULT '',
    email        TEXT NOT NULL DEFAULT '',
    phone        TEXT NOT NULL DEFAULT '',
    pain_points  TEXT NOT NULL DEFAULT '[]',
    budget_range TEXT NOT NULL DEFAULT '',
    lead_stage   TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX leads_tenant ON leads (tenant_id, id);

CREATE TABLE visitors (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    site_id    TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    lead_id    TEXT REFERENCES leads(id) ON DELETE SET NULL,
    name       TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX visitors_tenant ON visitors (tenant_id, id);

CREATE TABLE site_users (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    site_id    TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL DEFAULT '',
    active     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL
);
CREATE INDEX site_users_tenant ON site_users (tenant_id, id);

CREATE TABLE site_agents (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    site_id      TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    role         TEXT NOT NULL,
    name         TEXT NOT NULL,
    instructions TEXT NOT NULL DEFAULT '',
    user_id      TEXT REFERENCES site_users(id) ON DELETE SET NULL,
    active       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   BIGINT NOT NULL
);
CREATE INDEX site_agents_tenant ON site_agents (tenant_id, id);
CREATE INDEX site_agents_site ON site_agents (tenant_id, site_id, role, active);

-- One row per AI phase of a lead follow-up.
CREATE TABLE agent_commands (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    site_id      TEXT NOT NULL,
    lead_id      TEXT NOT NULL,
    agent_id     TEXT,
    kind         TEXT NOT NULL,
    status       TEXT NOT NULL,
    mode         TEXT NOT NULL,
    input        TEXT NOT NULL DEFAULT '{}',
    output       TEXT NOT NULL DEFAULT '{}',
    error        TEXT NOT NULL DEFAULT '',
    attempts     INTEGER NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX agent_commands_tenant ON agent_commands (tenant_id, id);
CREATE INDEX agent_commands_lead ON agent_commands (tenant_id, lead_id, id);

-- Which WhatsApp template a tenant sends for each outbound purpose (a staff
-- request, an answer outside the 24-hour window, ...), per channel type.
-- parameters is a JSON array naming, for body {{1}}, {{2}}, ..., which of
-- the purpose's values fills it. A purpose with no enabled row is not sent.
CREATE TABLE template_mappings (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    purpose       TEXT NOT NULL,
    channel_type  TEXT NOT NULL,
    template_name TEXT NOT NULL,
    language      TEXT NOT NULL,
    parameters    TEXT NOT NULL DEFAULT '[]',
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, purpose, channel_type)
);

-- The templates a WhatsApp Business Account holds, as the Graph API last
-- listed them for one of the tenant's channels. A sync replaces a
-- channel's rows.
CREATE TABLE whatsapp_templates (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    channel_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    language     TEXT NOT NULL,
    status       TEXT NOT NULL,
    category     TEXT NOT NULL DEFAULT '',
    components   TEXT NOT NULL DEFAULT '[]',
    body_params  INTEGER NOT NULL DEFAULT 0,
    synced_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, channel_id, name, language)
);

-- Tenants that exist keep sending what they sent: the built-in mappings
-- (store.DefaultTemplateMappings writes the same for new tenants).
INSERT INTO template_mappings (tenant_id, purpose, channel_type, template_name, language, parameters, enabled, updated_at)
SELECT t.id, d.purpose, d.channel_type, d.template_name, '', d.parameters, d.enabled, 0
FROM tenants t CROSS JOIN (
    SELECT 'staff_question_request' AS purpose, 'whatsapp' AS channel_type, 'merchant_user_question_request' AS template_name, '["ref","request_type","request"]' AS parameters, TRUE AS enabled
    UNION ALL
    SELECT 'staff_question_request' AS purpose, 'twilio' AS channel_type, 'merchant_user_question_request' AS template_name, '["ref","request_type","request"]' AS parameters, TRUE AS enabled
    UNION ALL
    SELECT 'staff_support_request' AS purpose, 'whatsapp' AS channel_type, 'merchant_user_override_request' AS template_name, '["ref","request_type","request"]' AS parameters, TRUE AS enabled
    UNION ALL
    SELECT 'staff_support_request' AS purpose, 'twilio' AS channel_type, 'merchant_user_override_request' AS template_name, '["ref","request_type","request"]' AS parameters, TRUE AS enabled
    UNION ALL
    SELECT 'question_answer' AS purpose, 'whatsapp' AS channel_type, 'merchant_user_question_answer' AS template_name, '["question","answer"]' AS parameters, TRUE AS enabled
    UNION ALL
    SELECT 'question_answer' AS purpose, 'twilio' AS channel_type, 'merchant_user_question_answer' AS template_name, '["question","answer"]' AS parameters, TRUE AS enabled
    UNION ALL
    SELECT 'support_answer' AS purpose, 'whatsapp' AS channel_type, 'customer_support_response' AS template_name, '["answer_fragment"]' AS parameters, TRUE AS enabled
    UNION ALL
    SELECT 'support_answer' AS purpose, 'twilio' AS channel_type, 'customer_support_response' AS template_name, '["answer_fragment"]' AS parameters, TRUE AS enabled
    UNION ALL
    SELECT 'follow_up' AS purpose, 'whatsapp' AS channel_type, 'follow_up' AS template_name, '["customer_name"]' AS parameters, FALSE AS enabled
    UNION ALL
    SELECT 'follow_up' AS purpose, 'twilio' AS channel_type, 'follow_up' AS template_name, '["customer_name"]' AS parameters, FALSE AS enabled
    UNION ALL
    SELECT 'lead_whatsapp_step' AS purpose, 'whatsapp' AS channel_type, 'lead_follow_up' AS template_name, '["first_name","title"]' AS parameters, FALSE AS enabled
    UNION ALL
    SELECT 'lead_whatsapp_step' AS purpose, 'twilio' AS channel_type, 'lead_follow_up' AS template_name, '["first_name","title"]' AS parameters, FALSE AS enabled
) d;

package store

import (
	"context"
	"fmt"
	"time"
)

// TemplateMapping is the template a tenant sends for one outbound purpose
// on one channel type. Parameters name, in body order ({{1}}, {{2}}, ...),
// which of the purpose's values fills each parameter.
type TemplateMapping struct {
	TenantID    string    `json:"-"`
	Purpose     string    `json:"purpose"`
	ChannelType string    `json:"channel_type"`
	Name        string    `json:"template_name"`
	Language    string    `json:"language"`
	Parameters  []string  `json:"parameters"`
	Enabled     bool      `json:"enabled"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// SyncedTemplate is one template of a WhatsApp Business Account as the
// Graph API listed it.
type SyncedTemplate struct {
	ChannelID  string    `json:"channel_id"`
	Name       string    `json:"name"`
	Language   string    `json:"language"`
	Status     string    `json:"status"`
	Category   string    `json:"category"`
	Components []any     `json:"components"`
	BodyParams int       `json:"body_parameters"`
	SyncedAt   time.Time `json:"synced_at"`
}

// DefaultTemplateMappings are the built-in mappings every new tenant gets
// (and "create defaults" restores): the template names Parley always sent,
// for WhatsApp and Twilio channels, in the conversation's language. The
// follow-up and lead purposes had no built-in template (a rule or a site
// names its own): their defaults are disabled until a tenant names one.
// The purposes and their values are package campaign's.
func DefaultTemplateMappings(tenantID string) []TemplateMapping {
	builtin := []struct {
		purpose, name string
		params        []string
		enabled       bool
	}{
		{"staff_question_request", "merchant_user_question_request", []string{"ref", "request_type", "request"}, true},
		{"staff_support_request", "merchant_user_override_request", []string{"ref", "request_type", "request"}, true},
		{"question_answer", "merchant_user_question_answer", []string{"question", "answer"}, true},
		{"support_answer", "customer_support_response", []string{"answer_fragment"}, true},
		{"follow_up", "follow_up", []string{"customer_name"}, false},
		{"lead_whatsapp_step", "lead_follow_up", []string{"first_name", "title"}, false},
	}
	var out []TemplateMapping
	for _, b := range builtin {
		for _, typ := range []string{"whatsapp", "twilio"} {
			out = append(out, TemplateMapping{TenantID: tenantID, Purpose: b.purpose, ChannelType: typ, Name: b.name,
				Parameters: append([]string(nil), b.params...), Enabled: b.enabled})
		}
	}
	return out
}

// PutDefaultTemplateMappings writes the built-in mappings over the tenant's.
func (q *Queries) PutDefaultTemplateMappings(ctx context.Context, tenantID string) error {
	for _, m := range DefaultTemplateMappings(tenantID) {
		if _, err := q.PutTemplateMapping(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// DeleteTemplateMapping removes a mapping: the purpose is no longer sent.
func (q *Queries) DeleteTemplateMapping(ctx context.Context, tenantID, purpose, channelType string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM template_mappings WHERE tenant_id = $1 AND purpose = $2 AND channel_type = $3`, tenantID, purpose, channelType)
	if err != nil {
		return fmt.Errorf("delete template mapping: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("template mapping")
	}
	return nil
}

const mappingCols = `purpose, channel_type, template_name, language, parameters, enabled, updated_at`

func scanMapping(tenantID string, row interface{ Scan(...any) error }) (TemplateMapping, error) {
	m := TemplateMapping{TenantID: tenantID}
	var params string
	var updated int64
	if err := row.Scan(&m.Purpose, &m.ChannelType, &m.Name, &m.Language, &params, &m.Enabled, &updated); err != nil {
		return m, err
	}
	m.UpdatedAt = fromMicros(updated)
	if err := decodeJSON(params, &m.Parameters); err != nil {
		return m, err
	}
	if m.Parameters == nil {
		m.Parameters = []string{}
	}
	return m, nil
}

// TemplateMappingFor returns the tenant's mapping of a purpose on a channel
// type (not found when there is none).
func (q *Queries) TemplateMappingFor(ctx context.Context, tenantID, purpose, channelType string) (TemplateMapping, error) {
	m, err := scanMapping(tenantID, q.q.QueryRowContext(ctx, `SELECT `+mappingCols+` FROM template_mappings
		WHERE tenant_id = $1 AND purpose = $2 AND channel_type = $3`, tenantID, purpose, channelType))
	return m, rowErr(err, "template mapping")
}

// ListTemplateMappings returns the tenant's mappings by purpose and channel type.
func (q *Queries) ListTemplateMappings(ctx context.Context, tenantID string) ([]TemplateMapping, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+mappingCols+` FROM template_mappings WHERE tenant_id = $1
		ORDER BY purpose, channel_type`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list template mappings: %w", err)
	}
	defer rows.Close()
	out := []TemplateMapping{}
	for rows.Next() {
		m, err := scanMapping(tenantID, rows)
		if err != nil {
			return nil, fmt.Errorf("list template mappings: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// PutTemplateMapping creates or replaces the mapping of a purpose on a
// channel type.
func (q *Queries) PutTemplateMapping(ctx context.Context, m TemplateMapping) (TemplateMapping, error) {
	m.UpdatedAt = q.clock.Now()
	if m.Parameters == nil {
		m.Parameters = []string{}
	}
	if _, err := q.q.ExecContext(ctx, `INSERT INTO template_mappings (tenant_id, `+mappingCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (tenant_id, purpose, channel_type) DO UPDATE SET template_name = excluded.template_name,
			language = excluded.language, parameters = excluded.parameters, enabled = excluded.enabled, updated_at = excluded.updated_at`,
		m.TenantID, m.Purpose, m.ChannelType, m.Name, m.Language, encodeJSON(m.Parameters), m.Enabled, micros(m.UpdatedAt)); err != nil {
		return m, fmt.Errorf("put template mapping: %w", err)
	}
	return m, nil
}

// ReplaceSyncedTemplates stores what the Graph API listed for a channel,
// in place of the previous sync.
func (q *Queries) ReplaceSyncedTemplates(ctx context.Context, tenantID, channelID string, ts []SyncedTemplate) error {
	if _, err := q.q.ExecContext(ctx, `DELETE FROM whatsapp_templates WHERE tenant_id = $1 AND channel_id = $2`, tenantID, channelID); err != nil {
		return fmt.Errorf("replace synced templates: %w", err)
	}
	now := micros(q.clock.Now())
	for _, t := range ts {
		if t.Components == nil {
			t.Components = []any{}
		}
		// A listing may name a template twice across pages; the last wins.
		if _, err := q.q.ExecContext(ctx, `INSERT INTO whatsapp_templates (tenant_id, channel_id, name, language, status, category, components, body_params, synced_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (tenant_id, channel_id, name, language) DO UPDATE SET status = excluded.status, category = excluded.category,
				components = excluded.components, body_params = excluded.body_params, synced_at = excluded.synced_at`,
			tenantID, channelID, t.Name, t.Language, t.Status, t.Category, encodeJSON(t.Components), t.BodyParams, now); err != nil {
			return fmt.Errorf("replace synced templates: %w", err)
		}
	}
	return nil
}

// SyncedTemplates lists the tenant's synced templates, of every channel.
func (q *Queries) SyncedTemplates(ctx context.Context, tenantID string) ([]SyncedTemplate, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT channel_id, name, language, status, category, components, body_params, synced_at
		FROM whatsapp_templates WHERE tenant_id = $1 ORDER BY name, language, channel_id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("synced templates: %w", err)
	}
	defer rows.Close()
	out := []SyncedTemplate{}
	for rows.Next() {
		var t SyncedTemplate
		var comps string
		var synced int64
		if err := rows.Scan(&t.ChannelID, &t.Name, &t.Language, &t.Status, &t.Category, &comps, &t.BodyParams, &synced); err != nil {
			return nil, fmt.Errorf("synced templates: %w", err)
		}
		t.SyncedAt = fromMicros(synced)
		if err := decodeJSON(comps, &t.Components); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

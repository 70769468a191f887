package campaign

import (
	"context"
	"fmt"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/whatsapp"
	"github.com/parleyhq/parley/store"
)

// SettingWABAID is the WhatsApp channel setting holding its WhatsApp
// Business Account id: where the Graph API lists the number's templates.
const SettingWABAID = "waba_id"

// Lister reads a WhatsApp Business Account's templates (whatsapp.Client).
type Lister interface {
	ListTemplates(ctx context.Context, token, wabaID string) ([]whatsapp.MessageTemplate, error)
}

// Sync reads the templates of every WhatsApp channel of the tenant that
// names its Business Account, and stores them in place of the last sync.
// The Graph calls are made outside any transaction; each channel's rows
// are replaced in one.
func Sync(ctx context.Context, st *store.Store, l Lister, tenantID string) ([]store.SyncedTemplate, error) {
	chans, _, err := st.Read().ListChannels(ctx, tenantID, store.Page{Limit: 200})
	if err != nil {
		return nil, fmt.Errorf("sync templates: %w", err)
	}
	synced := 0
	for _, c := range chans {
		waba := strings.TrimSpace(c.Settings[SettingWABAID])
		if c.Type != parley.ChannelWhatsApp || waba == "" {
			continue
		}
		listed, err := l.ListTemplates(ctx, c.AccessToken, waba)
		if err != nil {
			return nil, fmt.Errorf("sync templates of channel %s: %w", c.ID, err)
		}
		rows := make([]store.SyncedTemplate, 0, len(listed))
		for _, t := range listed {
			comps := make([]any, len(t.Components))
			for i, c := range t.Components {
				comps[i] = c
			}
			rows = append(rows, store.SyncedTemplate{ChannelID: c.ID, Name: t.Name, Language: t.Language, Status: t.Status,
				Category: t.Category, Components: comps, BodyParams: t.BodyParams()})
		}
		if err := st.InTx(ctx, func(q *store.Queries) error { return q.ReplaceSyncedTemplates(ctx, tenantID, c.ID, rows) }); err != nil {
			return nil, fmt.Errorf("sync templates: %w", err)
		}
		synced++
	}
	if synced == 0 {
		return nil, parley.FieldError("settings."+SettingWABAID, "no WhatsApp channel of the tenant names its WhatsApp Business Account id (settings.%s)", SettingWABAID)
	}
	return st.Read().SyncedTemplates(ctx, tenantID)
}

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

// CheckWABAID refuses what cannot be a WhatsApp Business Account id
// (Meta's ids are digits); empty is no account.
func CheckWABAID(id string) error {
	if len(id) > 32 || strings.ContainsFunc(id, func(r rune) bool { return r < '0' || r > '9' }) {
		return parley.FieldError("settings."+SettingWABAID, "%q is not a WhatsApp Business Account id: digits, as WhatsApp Manager shows it (e.g. 102290129340398)", id)
	}
	return nil
}

// SyncResult is what a sync stored, and the WhatsApp channels it could
// not read because they name no Business Account.
type SyncResult struct {
	Templates []store.SyncedTemplate
	Unnamed   []parley.Channel
}

// Sync reads the templates of every WhatsApp channel of the tenant that
// names its Business Account, and stores them in place of the last sync.
// Every account is listed first, outside any transaction; then all the
// channels' rows are replaced in one, so a listing that fails leaves the
// last sync whole.
func Sync(ctx context.Context, st *store.Store, l Lister, tenantID string) (SyncResult, error) {
	chans, _, err := st.Read().ListChannels(ctx, tenantID, store.Page{Limit: 200})
	if err != nil {
		return SyncResult{}, fmt.Errorf("sync templates: %w", err)
	}
	var res SyncResult
	listed := map[string][]store.SyncedTemplate{}
	for _, c := range chans {
		if c.Type != parley.ChannelWhatsApp {
			continue
		}
		waba := strings.TrimSpace(c.Settings[SettingWABAID])
		if waba == "" {
			res.Unnamed = append(res.Unnamed, c)
			continue
		}
		ts, err := l.ListTemplates(ctx, c.AccessToken, waba)
		if err != nil {
			return SyncResult{}, fmt.Errorf("sync templates of channel %s (%s): %w", c.Name, c.ID, err)
		}
		rows := make([]store.SyncedTemplate, 0, len(ts))
		for _, t := range ts {
			comps := make([]any, len(t.Components))
			for i, c := range t.Components {
				comps[i] = c
			}
			rows = append(rows, store.SyncedTemplate{ChannelID: c.ID, Name: t.Name, Language: t.Language, Status: t.Status,
				Category: t.Category, Components: comps, BodyParams: t.BodyParams()})
		}
		listed[c.ID] = rows
	}
	if len(listed) == 0 {
		return SyncResult{}, parley.FieldError("settings."+SettingWABAID, "no WhatsApp channel of the tenant names its WhatsApp Business Account id (settings.%s)", SettingWABAID)
	}
	err = st.InTx(ctx, func(q *store.Queries) error {
		for id, rows := range listed {
			if err := q.ReplaceSyncedTemplates(ctx, tenantID, id, rows); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return SyncResult{}, fmt.Errorf("sync templates: %w", err)
	}
	res.Templates, err = st.Read().SyncedTemplates(ctx, tenantID)
	return res, err
}

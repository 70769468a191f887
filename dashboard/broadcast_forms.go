package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/store"
)

// The New broadcast form and the broadcast settings (admins only). The
// form only reads what was typed; whether a broadcast can be sent is
// campaign.Broadcasts.Create's to say, and whether settings are valid
// campaign.CheckSettings's, the same checks as the API.

type templateGroup struct {
	Channel   parley.Channel
	Templates []store.SyncedTemplate
}

type broadcastFormData struct {
	Form     *Form
	Channels []parley.Channel // the channels that send templates
	Groups   []templateGroup  // synced templates by WhatsApp channel
	Twilio   bool             // some channel is a Twilio one
	TimeZone string
	// CanSync: the Sync templates button is offered.
	CanSync bool
	// Synced (after Sync templates) says what the sync found; SyncError
	// why it could not run.
	Synced, SyncError string
}

var broadcastFields = []string{"name", "channel_id", "template", "content_sid", "language", "category", "parameters",
	"seg_channel_id", "seg_tags", "seg_after", "seg_before", "seg_opted_in", "send_at", "rate"}

func (d *Dashboard) broadcastForm(w http.ResponseWriter, r *http.Request, s *Session) error {
	return d.showBroadcastForm(w, r, s, http.StatusOK, newForm())
}

func (d *Dashboard) showBroadcastForm(w http.ResponseWriter, r *http.Request, s *Session, status int, f *Form) error {
	return d.renderBroadcastForm(w, r, s, status, broadcastFormData{Form: f})
}

func (d *Dashboard) renderBroadcastForm(w http.ResponseWriter, r *http.Request, s *Session, status int, data broadcastFormData) error {
	ctx := r.Context()
	channels, err := d.ruleChannels(ctx, s.TenantID)
	if err != nil {
		return err
	}
	synced, err := d.store.Read().SyncedTemplates(ctx, s.TenantID)
	if err != nil {
		return err
	}
	data.TimeZone, data.CanSync = cmpOr(s.Tenant.TimeZone, "UTC"), d.templates != nil
	for _, c := range channels {
		switch c.Type {
		case parley.ChannelTwilio:
			data.Twilio = true
		case parley.ChannelWhatsApp:
		default:
			continue
		}
		data.Channels = append(data.Channels, c)
		g := templateGroup{Channel: c}
		for _, t := range synced {
			if t.ChannelID == c.ID {
				g.Templates = append(g.Templates, t)
			}
		}
		if len(g.Templates) > 0 {
			data.Groups = append(data.Groups, g)
		}
	}
	return d.render(w, r, s, status, "broadcast_new", data)
}

func (d *Dashboard) createBroadcast(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	f := readForm(r, broadcastFields...)
	in, twilio := d.broadcastRequest(ctx, s, f)
	if f.OK() {
		b, refusal, err := d.broadcasts.Create(ctx, s.Tenant, in)
		if err != nil {
			return err
		}
		if refusal == nil {
			d.log.InfoContext(ctx, "broadcast created from the dashboard", "tenant_id", s.TenantID, "broadcast_id", b.ID, "user_id", s.UserID)
			return redirect(w, r, "/broadcasts/"+b.ID)
		}
		f.Fail(refusalField(refusal.Code, twilio), refusal.Message+".")
	}
	return d.showBroadcastForm(w, r, s, http.StatusUnprocessableEntity, f)
}

// syncTemplates reads the tenant's WhatsApp Business Accounts' templates
// again (the Sync templates button, which submits the form as typed) and
// shows the form again, what was typed kept, with what the sync found or
// why it could not run.
func (d *Dashboard) syncTemplates(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	data := broadcastFormData{Form: readForm(r, broadcastFields...)}
	res, err := campaign.Sync(ctx, d.store, d.templates, s.TenantID)
	status := http.StatusOK
	switch {
	case err == nil:
		approved := 0
		for _, t := range res.Templates {
			if t.Status == "APPROVED" {
				approved++
			}
		}
		noun := "templates"
		if len(res.Templates) == 1 {
			noun = "template"
		}
		data.Synced = fmt.Sprintf("Synced %d %s (%d approved) from WhatsApp.", len(res.Templates), noun, approved)
		// A channel the sync could not read is said, not passed over.
		for _, c := range res.Unnamed {
			data.Synced += fmt.Sprintf(" %s names no Business Account, so its templates were not read.", c.Name)
		}
		d.log.InfoContext(ctx, "templates synced from the dashboard", "tenant_id", s.TenantID, "user_id", s.UserID,
			"templates", len(res.Templates), "channels_without_account", len(res.Unnamed))
	case parley.ErrorCode(err) == parley.CodeValidation:
		status = http.StatusUnprocessableEntity
		data.SyncError = "No WhatsApp channel names its WhatsApp Business Account: set the account id on the channel's page in Settings › Channels, then sync again."
	default:
		status = http.StatusBadGateway
		data.SyncError = "WhatsApp did not list the templates, so none were changed: " + err.Error() + "."
		d.log.WarnContext(ctx, "template sync from the dashboard failed", "tenant_id", s.TenantID, "user_id", s.UserID, "err", err)
	}
	return d.renderBroadcastForm(w, r, s, status, data)
}

// broadcastRequest reads the form as the API's request. Only what cannot
// be read (a number, a date) fails here; the rest is campaign's to check.
func (d *Dashboard) broadcastRequest(ctx context.Context, s *Session, f *Form) (campaign.BroadcastRequest, bool) {
	in := campaign.BroadcastRequest{Name: f.Get("name"), ChannelID: f.Get("channel_id"), TemplateName: f.Get("template"),
		Language: f.Get("language"), SendAt: f.Get("send_at"), Category: f.Get("category")}
	f.Max(200, "name")
	f.Max(512, "template", "content_sid")
	twilio := false
	if ch, err := d.store.Read().GetChannel(ctx, s.TenantID, in.ChannelID); err == nil && ch.Type == parley.ChannelTwilio {
		twilio, in.TemplateName = true, f.Get("content_sid")
	}
	for _, line := range strings.Split(f.Get("parameters"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			in.Parameters = append(in.Parameters, line)
		}
	}
	in.RatePerSec = f.Int("rate", rateHint)
	seg := store.Segment{ChannelID: f.Get("seg_channel_id")}
	for _, t := range strings.Split(f.Get("seg_tags"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			seg.Tags = append(seg.Tags, t)
		}
	}
	// Saved zones were checked and the binary carries the zone database,
	// so this fails only for a zone edited into the database by hand.
	loc, zoneErr := time.LoadLocation(cmpOr(s.Tenant.TimeZone, "UTC"))
	for field, dst := range map[string]**time.Time{"seg_after": &seg.LastContactAfter, "seg_before": &seg.LastContactBefore} {
		if v := f.Get(field); v != "" {
			if zoneErr != nil {
				f.Fail(field, fmt.Sprintf("The tenant's time zone %q is unknown: set it in Settings.", s.Tenant.TimeZone))
				continue
			}
			t, err := time.ParseInLocation("2006-01-02", v, loc)
			if err != nil {
				f.Fail(field, "A date like 2026-12-24.")
				continue
			}
			*dst = &t
		}
	}
	switch f.Get("seg_opted_in") {
	case "yes":
		seg.OptedIn = ptr(true)
	case "no":
		seg.OptedIn = ptr(false)
	}
	in.Segment = seg
	return in, twilio
}

func ptr[T any](v T) *T { return &v }

// refusalField is the form field a campaign refusal is about.
func refusalField(code string, twilio bool) string {
	switch code {
	case campaign.CodeUnknownChannel, campaign.CodeNoTemplates:
		return "channel_id"
	case campaign.CodeTemplateRequired, campaign.CodeNotSynced, campaign.CodeNotApproved:
		if twilio {
			return "content_sid"
		}
		return "template"
	case campaign.CodeParameterMismatch, campaign.CodeUnknownValue:
		return "parameters"
	case campaign.CodeEmptySegment:
		return "segment"
	case campaign.CodeBadSendAt:
		return "send_at"
	case campaign.CodeRateOutOfRange:
		return "rate"
	case campaign.CodeUnknownCategory:
		return "category"
	}
	return "name"
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// --- settings ---

type broadcastSettingsData struct {
	Form     *Form
	Defaults map[string]float64
	Words    []string // in force
	Saved    bool
}

var priceCategories = []string{"marketing", "utility", "authentication"}

func (d *Dashboard) broadcastSettingsForm(w http.ResponseWriter, r *http.Request, s *Session) error {
	st, err := d.store.Read().GetBroadcastSettings(r.Context(), s.TenantID)
	if err != nil {
		return err
	}
	f := newForm()
	f.Values["opt_out_words"] = strings.Join(st.OptOutWords, "\n")
	f.Values["opt_out_reply"] = st.OptOutReply
	if st.RatePerSec != 0 {
		f.Values["rate"] = strconv.Itoa(st.RatePerSec)
	}
	for k, v := range st.Prices {
		f.Values["price_"+k] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	return d.showBroadcastSettings(w, r, s, http.StatusOK, f, st, r.URL.Query().Get("saved") == "1")
}

func (d *Dashboard) showBroadcastSettings(w http.ResponseWriter, r *http.Request, s *Session, status int, f *Form, st store.BroadcastSettings, saved bool) error {
	return d.render(w, r, s, status, "broadcast_settings", broadcastSettingsData{Form: f, Defaults: campaign.DefaultPrices, Words: campaign.OptOutWords(st), Saved: saved})
}

// rateHint is what a rate that is not a whole number is told.
const rateHint = "A whole number of messages a second."

func (d *Dashboard) saveBroadcastSettings(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	f := readForm(r, "opt_out_words", "opt_out_reply", "rate", "price_marketing", "price_utility", "price_authentication")
	st := store.BroadcastSettings{OptOutReply: f.Get("opt_out_reply"), Prices: map[string]float64{}}
	for _, line := range strings.FieldsFunc(f.Get("opt_out_words"), func(r rune) bool { return r == '\n' || r == ',' }) {
		if line = strings.TrimSpace(line); line != "" && !slices.Contains(st.OptOutWords, line) {
			st.OptOutWords = append(st.OptOutWords, line)
		}
	}
	st.RatePerSec = f.Int("rate", rateHint)
	for _, k := range priceCategories {
		if v := f.Get("price_" + k); v != "" {
			p, err := strconv.ParseFloat(v, 64)
			if err != nil {
				f.Fail("price_"+k, "A price in US dollars, like 0.025.")
			}
			st.Prices[k] = p
		}
	}
	if f.OK() {
		err := campaign.CheckSettings(st)
		if err == nil {
			err = d.store.InTx(ctx, func(q *store.Queries) error { return q.PutBroadcastSettings(ctx, s.TenantID, st) })
			if err == nil {
				d.log.InfoContext(ctx, "broadcast settings saved from the dashboard", "tenant_id", s.TenantID, "user_id", s.UserID)
				return redirect(w, r, "/broadcasts/settings?saved=1")
			}
		}
		var pe *parley.Error
		if errors.As(err, &pe) && strings.HasPrefix(pe.Field, "prices.") {
			pe.Field = "price_" + strings.TrimPrefix(pe.Field, "prices.")
		}
		if errors.As(err, &pe) && pe.Field == "rate_per_second" {
			pe.Field = "rate"
		}
		if !f.Absorb(err, "opt_out_words") {
			return err
		}
	}
	cur, err := d.store.Read().GetBroadcastSettings(ctx, s.TenantID)
	if err != nil {
		return err
	}
	return d.showBroadcastSettings(w, r, s, http.StatusUnprocessableEntity, f, cur, false)
}

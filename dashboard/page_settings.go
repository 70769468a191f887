package dashboard

import (
	"errors"
	"net/http"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/phone"
	"github.com/parleyhq/parley/store"
)

// Settings: channels, staff, agents, the tenant's own settings and API
// keys. Admins only. Each tab lives in its own settings_*.go file.

func (d *Dashboard) settingsPage() Page {
	return Page{Name: "Settings", Path: "/settings", Admin: true, Routes: func(rt Routes) {
		rt.Get("/settings", func(w http.ResponseWriter, r *http.Request, s *Session) error {
			return redirect(w, r, "/settings/channels")
		})
		rt.Get("/settings/channels", d.channels)
		rt.Get("/settings/channels/{id}", d.channelForm)
		rt.Post("/settings/channels/{id}", d.saveChannel)
		rt.Post("/settings/channels/{id}/active", d.toggleChannel)

		rt.Get("/settings/staff", d.staff)
		rt.Post("/settings/staff", d.addStaff)
		rt.Post("/settings/staff/{id}/delete", d.deleteStaff)

		rt.Get("/settings/agents", d.agents)
		rt.Post("/settings/agents", d.addAgent)
		rt.Post("/settings/agents/{id}/available", d.toggleAgent)

		rt.Get("/settings/tenant", d.tenantForm)
		rt.Post("/settings/tenant", d.saveTenant)

		rt.Get("/settings/usage", d.usage)

		rt.Get("/settings/api-keys", d.apiKeys)
		rt.Post("/settings/api-keys", d.createAPIKey)
		rt.Post("/settings/api-keys/{id}/revoke", d.revokeAPIKey)

		if d.webhooks != nil {
			rt.Get("/settings/webhooks", d.webhookList)
			rt.Post("/settings/webhooks", d.createWebhook)
			rt.Get("/settings/webhooks/{id}", d.webhookDeliveries)
			rt.Post("/settings/webhooks/{id}/active", d.toggleWebhook)
		}
	}}
}

// --- channels ---

type channelsData struct {
	Tab      string
	Channels []parley.Channel
	Pager    Pager
}

func (d *Dashboard) channels(w http.ResponseWriter, r *http.Request, s *Session) error {
	items, next, err := d.store.ListChannels(r.Context(), s.TenantID, store.Page{Limit: listSize, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	return d.render(w, r, s, http.StatusOK, "settings_channels", channelsData{Tab: "channels", Channels: items, Pager: pager(r, "cursor", next)})
}

// toggleChannel switches a channel on or off. htmx swaps the row in
// place; a plain form post goes back to the list.
func (d *Dashboard) toggleChannel(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	c, err := d.store.GetChannel(ctx, s.TenantID, r.PathValue("id"))
	if err != nil {
		return err
	}
	c.Active = r.PostFormValue("active") == "true"
	if err := d.store.SetChannelActive(ctx, s.TenantID, c.ID, c.Active); err != nil {
		return err
	}
	d.log.InfoContext(ctx, "channel toggled from the dashboard", "tenant_id", s.TenantID, "channel_id", c.ID, "active", c.Active, "user_id", s.UserID)
	if isHTMX(r) {
		return d.fragment(w, r, s, "settings_channels", "channel-row", c)
	}
	return redirect(w, r, "/settings/channels")
}

type channelData struct {
	Tab     string
	Channel parley.Channel
	Form    *Form
}

func (d *Dashboard) channelForm(w http.ResponseWriter, r *http.Request, s *Session) error {
	c, err := d.store.GetChannel(r.Context(), s.TenantID, r.PathValue("id"))
	if err != nil {
		return err
	}
	f := newForm()
	f.Values["test_senders"] = strings.Join(c.TestSenders, "\n")
	f.Values["waba_id"] = c.Settings[campaign.SettingWABAID]
	return d.render(w, r, s, http.StatusOK, "settings_channel", channelData{Tab: "channels", Channel: c, Form: f})
}

// saveChannel changes a channel's test senders (numbers served even while
// the channel is inactive) and, for WhatsApp, its Business Account id
// (where its templates are synced from).
func (d *Dashboard) saveChannel(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	c, err := d.store.GetChannel(ctx, s.TenantID, r.PathValue("id"))
	if err != nil {
		return err
	}
	f := readForm(r, "test_senders", "waba_id")
	waba := f.Get("waba_id")
	var bad *parley.Error
	if c.Type == parley.ChannelWhatsApp && errors.As(campaign.CheckWABAID(waba), &bad) {
		f.Fail("waba_id", bad.Message+".")
	}
	senders := []string{}
	seen := map[string]bool{}
	for _, raw := range strings.FieldsFunc(f.Get("test_senders"), func(r rune) bool { return r == '\n' || r == ',' || r == ';' }) {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		var n string
		if c.Type == parley.ChannelInstagram {
			// Instagram contacts are Instagram-scoped ids, not numbers.
			id, ok := parley.InstagramID(raw)
			if !ok {
				id = raw
			}
			if id == "" || strings.ContainsFunc(id, func(r rune) bool { return r < '0' || r > '9' }) {
				f.Fail("test_senders", "“"+raw+"” is not an Instagram-scoped id (digits, as the customer's messages show it).")
				break
			}
			n = parley.InstagramContact(id)
		} else {
			var err error
			if n, err = phone.Normalize(raw, ""); err != nil {
				f.Fail("test_senders", "“"+raw+"” is not a phone number in international format (e.g. +5511999990000).")
				break
			}
		}
		if !seen[n] {
			seen[n] = true
			senders = append(senders, n)
		}
	}
	if len(senders) > 100 {
		f.Fail("test_senders", "At most 100 numbers.")
	}
	if !f.OK() {
		return d.render(w, r, s, http.StatusUnprocessableEntity, "settings_channel", channelData{Tab: "channels", Channel: c, Form: f})
	}
	err = d.store.InTx(ctx, func(q *store.Queries) error {
		if err := q.SetChannelTestSenders(ctx, s.TenantID, c.ID, senders); err != nil {
			return err
		}
		if c.Type != parley.ChannelWhatsApp || waba == c.Settings[campaign.SettingWABAID] {
			return nil
		}
		// One key, in one statement: an ownership check being recorded
		// meanwhile keeps its result.
		return q.SetChannelSetting(ctx, s.TenantID, c.ID, campaign.SettingWABAID, waba)
	})
	if err != nil {
		return err
	}
	return redirect(w, r, "/settings/channels")
}

// --- staff ---

type staffData struct {
	Tab   string
	Staff []parley.StaffMember
	Pager Pager
	Form  *Form
}

func (d *Dashboard) staff(w http.ResponseWriter, r *http.Request, s *Session) error {
	return d.showStaff(w, r, s, http.StatusOK, newForm())
}

func (d *Dashboard) showStaff(w http.ResponseWriter, r *http.Request, s *Session, status int, f *Form) error {
	items, next, err := d.store.ListStaffMembers(r.Context(), s.TenantID, store.Page{Limit: listSize, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	return d.render(w, r, s, status, "settings_staff", staffData{Tab: "staff", Staff: items, Pager: pager(r, "cursor", next), Form: f})
}

func (d *Dashboard) addStaff(w http.ResponseWriter, r *http.Request, s *Session) error {
	f := readForm(r, "phone", "name", "type")
	f.Require(32, "phone")
	f.Max(200, "name")
	f.Require(64, "type")
	m := parley.StaffMember{TenantID: s.TenantID, Name: f.Get("name"), Type: strings.ToLower(f.Get("type"))}
	if t := m.Type; t != "" && !staffType.MatchString(t) {
		f.Fail("type", "Use one word of letters, digits, _ or - (e.g. sales, support, returns).")
	}
	if p := f.Get("phone"); p != "" {
		n, err := phone.Normalize(p, "")
		if err != nil {
			f.Fail("phone", "Not a phone number in international format (e.g. +5511999990000).")
		}
		m.Phone = n
	}
	if f.OK() {
		_, err := d.store.CreateStaffMember(r.Context(), m)
		if err == nil {
			return redirect(w, r, "/settings/staff")
		}
		if !f.Absorb(err, "phone") {
			return err
		}
	}
	return d.showStaff(w, r, s, http.StatusUnprocessableEntity, f)
}

func (d *Dashboard) deleteStaff(w http.ResponseWriter, r *http.Request, s *Session) error {
	if err := d.store.DeleteStaffMember(r.Context(), s.TenantID, r.PathValue("id")); err != nil {
		return err
	}
	return redirect(w, r, "/settings/staff")
}

// --- agents ---

type agentsData struct {
	Tab    string
	Agents []parley.HumanAgent
	Pager  Pager
	Form   *Form
}

func (d *Dashboard) agents(w http.ResponseWriter, r *http.Request, s *Session) error {
	f := newForm()
	f.Values["available"] = "true"
	return d.showAgents(w, r, s, http.StatusOK, f)
}

func (d *Dashboard) showAgents(w http.ResponseWriter, r *http.Request, s *Session, status int, f *Form) error {
	items, next, err := d.store.ListAgents(r.Context(), s.TenantID, store.Page{Limit: listSize, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	return d.render(w, r, s, status, "settings_agents", agentsData{Tab: "agents", Agents: items, Pager: pager(r, "cursor", next), Form: f})
}

func (d *Dashboard) addAgent(w http.ResponseWriter, r *http.Request, s *Session) error {
	f := readForm(r, "name", "email", "available")
	f.Require(200, "name")
	f.Max(320, "email")
	if e := f.Get("email"); e != "" && !looksLikeEmail(e) {
		f.Fail("email", "Not an e-mail address.")
	}
	if f.OK() {
		_, err := d.store.CreateAgent(r.Context(), parley.HumanAgent{TenantID: s.TenantID, Name: f.Get("name"), Email: f.Get("email"), Available: f.Get("available") == "true"})
		if err == nil {
			return redirect(w, r, "/settings/agents")
		}
		if !f.Absorb(err, "name") {
			return err
		}
	}
	return d.showAgents(w, r, s, http.StatusUnprocessableEntity, f)
}

func (d *Dashboard) toggleAgent(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	a, err := d.store.GetAgent(ctx, s.TenantID, r.PathValue("id"))
	if err != nil {
		return err
	}
	a.Available = r.PostFormValue("available") == "true"
	if err := d.store.UpdateAgent(ctx, a); err != nil {
		return err
	}
	if isHTMX(r) {
		return d.fragment(w, r, s, "settings_agents", "agent-row", a)
	}
	return redirect(w, r, "/settings/agents")
}

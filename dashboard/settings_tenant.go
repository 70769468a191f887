package dashboard

import (
	"net/http"
	"net/mail"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// The tenant's own settings (modules, features, availability hours) and
// its API keys.

var (
	staffType  = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	moduleName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	hhmm       = regexp.MustCompile(`^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$`)
	weekdays   = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
)

func looksLikeEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

type tenantData struct {
	Tab      string
	Form     *Form
	Weekdays []string
	Saved    bool
}

func (d *Dashboard) tenantForm(w http.ResponseWriter, r *http.Request, s *Session) error {
	t := s.Tenant
	f := newForm()
	f.Values["name"], f.Values["time_zone"], f.Values["default_language"] = t.Name, t.TimeZone, t.DefaultLanguage
	var other []string
	for _, m := range t.Modules {
		if m == parley.ModuleAppointments {
			f.Values["module_appointments"] = "on"
		} else {
			other = append(other, m)
		}
	}
	f.Values["other_modules"] = strings.Join(other, ", ")
	if t.Features[parley.FeatureFollowUps] {
		f.Values["feature_followups"] = "on"
	}
	if len(t.Availability) == 0 {
		f.Values["always_open"] = "on"
	}
	for _, day := range weekdays {
		var parts []string
		for _, iv := range t.Availability[day] {
			parts = append(parts, iv.Start+"-"+iv.End)
		}
		f.Values["day_"+day] = strings.Join(parts, ", ")
	}
	return d.render(w, r, s, http.StatusOK, "settings_tenant", tenantData{Tab: "tenant", Form: f, Weekdays: weekdays, Saved: r.URL.Query().Get("saved") == "1"})
}

func (d *Dashboard) saveTenant(w http.ResponseWriter, r *http.Request, s *Session) error {
	fields := []string{"name", "time_zone", "default_language", "module_appointments", "other_modules", "feature_followups", "always_open"}
	for _, day := range weekdays {
		fields = append(fields, "day_"+day)
	}
	f := readForm(r, fields...)
	f.Require(200, "name")
	f.Require(64, "time_zone")
	f.Require(16, "default_language")
	t := s.Tenant
	t.Name, t.TimeZone, t.DefaultLanguage = f.Get("name"), f.Get("time_zone"), f.Get("default_language")
	if tz := t.TimeZone; tz != "" {
		if _, err := time.LoadLocation(tz); err != nil || strings.EqualFold(tz, "local") {
			f.Fail("time_zone", "Not a known IANA time zone (e.g. Europe/Lisbon, America/Sao_Paulo).")
		}
	}
	t.Modules = []string{}
	if f.Get("module_appointments") != "" {
		t.Modules = append(t.Modules, parley.ModuleAppointments)
	}
	for _, m := range strings.FieldsFunc(f.Get("other_modules"), func(r rune) bool { return r == ',' || r == ' ' }) {
		m = strings.ToUpper(m)
		if !moduleName.MatchString(m) || len(m) > 64 {
			f.Fail("other_modules", "“"+m+"” is not a module name (letters, digits and _).")
			break
		}
		if m != parley.ModuleAppointments {
			t.Modules = append(t.Modules, m)
		}
	}
	features := map[string]bool{}
	for k, v := range t.Features {
		features[k] = v
	}
	features[parley.FeatureFollowUps] = f.Get("feature_followups") != ""
	t.Features = features
	t.Availability = parley.WeeklyHours{}
	if f.Get("always_open") == "" {
		open := false
		for _, day := range weekdays {
			ivs, msg := parseIntervals(f.Get("day_" + day))
			if msg != "" {
				f.Fail("day_"+day, msg)
				continue
			}
			t.Availability[day] = ivs
			open = open || len(ivs) > 0
		}
		if !open && f.OK() {
			f.Fail("always_open", "Every day is closed: give opening hours, or tick “Always open”.")
		}
	}
	if !f.OK() {
		return d.render(w, r, s, http.StatusUnprocessableEntity, "settings_tenant", tenantData{Tab: "tenant", Form: f, Weekdays: weekdays})
	}
	if err := d.store.UpdateTenant(r.Context(), t); err != nil {
		return err
	}
	return redirect(w, r, "/settings/tenant?saved=1")
}

// parseIntervals reads "09:00-12:00, 13:00-18:00" (empty: closed all day).
func parseIntervals(v string) ([]parley.Interval, string) {
	out := []parley.Interval{}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		start, end, ok := strings.Cut(part, "-")
		start, end = strings.TrimSpace(start), strings.TrimSpace(end)
		if !ok || !hhmm.MatchString(start) || !hhmm.MatchString(end) || start >= end {
			return nil, "“" + part + "” is not an opening like 09:00-17:30 (start before end)."
		}
		out = append(out, parley.Interval{Start: start, End: end})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	for i := 1; i < len(out); i++ {
		if out[i].Start < out[i-1].End {
			return nil, "Openings overlap: " + out[i-1].Start + "-" + out[i-1].End + " and " + out[i].Start + "-" + out[i].End + "."
		}
	}
	return out, ""
}

type apiKeysData struct {
	Tab    string
	Keys   []parley.APIKey
	Pager  Pager
	Form   *Form
	NewKey *newKey // set once, right after creating a key
}

type newKey struct{ Name, Secret string }

func (d *Dashboard) apiKeys(w http.ResponseWriter, r *http.Request, s *Session) error {
	return d.showAPIKeys(w, r, s, http.StatusOK, newForm(), nil)
}

func (d *Dashboard) showAPIKeys(w http.ResponseWriter, r *http.Request, s *Session, status int, f *Form, nk *newKey) error {
	keys, next, err := d.store.ListAPIKeysPage(r.Context(), s.TenantID, store.Page{Limit: listSize, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	return d.render(w, r, s, status, "settings_api_keys", apiKeysData{Tab: "api-keys", Keys: keys, Pager: pager(r, "cursor", next), Form: f, NewKey: nk})
}

// createAPIKey shows the new secret in this one answer (never stored,
// never in a URL); the page is not cached.
func (d *Dashboard) createAPIKey(w http.ResponseWriter, r *http.Request, s *Session) error {
	f := readForm(r, "name")
	f.Require(100, "name")
	if !f.OK() {
		return d.showAPIKeys(w, r, s, http.StatusUnprocessableEntity, f, nil)
	}
	k, secret, err := d.store.CreateAPIKey(r.Context(), s.TenantID, f.Get("name"))
	if err != nil {
		return err
	}
	d.log.InfoContext(r.Context(), "api key created from the dashboard", "tenant_id", s.TenantID, "api_key_id", k.ID, "user_id", s.UserID)
	return d.showAPIKeys(w, r, s, http.StatusCreated, newForm(), &newKey{Name: k.Name, Secret: secret})
}

func (d *Dashboard) revokeAPIKey(w http.ResponseWriter, r *http.Request, s *Session) error {
	if err := d.store.RevokeAPIKey(r.Context(), s.TenantID, r.PathValue("id")); err != nil {
		return err
	}
	d.log.InfoContext(r.Context(), "api key revoked from the dashboard", "tenant_id", s.TenantID, "api_key_id", r.PathValue("id"), "user_id", s.UserID)
	return redirect(w, r, "/settings/api-keys")
}

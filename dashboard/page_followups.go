package dashboard

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/store"
)

// Follow-ups: the tenant's rules with how each performs, a "New follow-up"
// dialog, an edit page, and an active toggle that never deletes. Rules are
// checked by followup.RuleInput, the same checks (and messages) as the API.

func (d *Dashboard) followUpsPage() Page {
	return Page{Name: "Follow-ups", Path: "/followups", Routes: func(rt Routes) {
		rt.Get("/followups", d.followUps)
		rt.Post("/followups", d.createRule)
		rt.Get("/followups/{id}", d.ruleForm)
		rt.Post("/followups/{id}", d.saveRule)
		rt.Post("/followups/{id}/active", d.toggleRule)
	}}
}

type ruleRow struct {
	Rule     parley.FollowUpRule
	Delay    string
	Channels []string // names; empty means every channel
	Stats    store.FollowUpStats
	Reach    store.FollowUpReach // the preview (silent now) and the conversations reached
}

type followUpsData struct {
	Rows     []ruleRow
	Pager    Pager
	Edit     bool   // the edit page instead of the list
	ID       string // the rule edited
	Open     bool   // the New follow-up dialog starts open
	Form     *Form
	Channels []parley.Channel
	Chosen   map[string]bool
	// FeatureOff: the tenant's follow-ups are switched off, so no rule
	// sends anything; the page says so, and how to switch them on.
	FeatureOff bool
	// ModuleOff: the feature is on but the tenant lacks the APPOINTMENTS
	// module, which follow-ups also need.
	ModuleOff bool
}

func (d *Dashboard) followUps(w http.ResponseWriter, r *http.Request, s *Session) error {
	f := newForm()
	f.Values["delay"] = "1d"
	return d.showFollowUps(w, r, s, http.StatusOK, f, map[string]bool{}, r.URL.Query().Get("new") == "1")
}

func (d *Dashboard) showFollowUps(w http.ResponseWriter, r *http.Request, s *Session, status int, f *Form, chosen map[string]bool, open bool) error {
	ctx := r.Context()
	channels, err := d.ruleChannels(ctx, s.TenantID)
	if err != nil {
		return err
	}
	rules, next, err := d.store.ListFollowUpRules(ctx, s.TenantID, store.Page{Limit: listSize, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	tenant, err := d.store.GetTenant(ctx, s.TenantID)
	if err != nil {
		return err
	}
	data := followUpsData{Pager: pager(r, "cursor", next), Open: open, Form: f, Channels: channels, Chosen: chosen, FeatureOff: followup.Warning(tenant) == followup.FeatureOffWarning,
		ModuleOff: followup.Warning(tenant) == followup.ModuleOffWarning}
	for _, rule := range rules {
		row, err := d.ruleRow(ctx, rule, channels)
		if err != nil {
			return err
		}
		data.Rows = append(data.Rows, row)
	}
	return d.render(w, r, s, status, "followups", data)
}

// ruleChannels lists the channels a rule may name (a business has a handful).
func (d *Dashboard) ruleChannels(ctx context.Context, tenantID string) ([]parley.Channel, error) {
	channels, _, err := d.store.ListChannels(ctx, tenantID, store.Page{Limit: 200})
	return channels, err
}

func (d *Dashboard) ruleRow(ctx context.Context, rule parley.FollowUpRule, channels []parley.Channel) (ruleRow, error) {
	stats, err := d.store.FollowUpRuleStats(ctx, rule.TenantID, rule.ID)
	if err != nil {
		return ruleRow{}, err
	}
	reach, err := d.store.RuleReach(ctx, rule, d.clock.Now())
	if err != nil {
		return ruleRow{}, err
	}
	row := ruleRow{Rule: rule, Delay: followup.FormatDelay(rule.Delay), Stats: stats, Reach: reach}
	for _, id := range rule.ChannelIDs {
		name := id
		for _, c := range channels {
			if c.ID == id {
				name = c.Name
			}
		}
		row.Channels = append(row.Channels, name)
	}
	return row, nil
}

// readRule reads the rule form: the fields the API takes, by the same names.
func readRule(r *http.Request) (*Form, []string, map[string]bool) {
	f := readForm(r, "title", "message", "generate", "delay", "survey")
	f.Max(200, "title")
	f.Max(4096, "message")
	f.Max(32, "delay")
	ids := []string{}
	chosen := map[string]bool{}
	for _, id := range r.PostForm["channel_ids"] {
		if id = strings.TrimSpace(id); id != "" && !chosen[id] {
			chosen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) > 100 {
		f.Fail("channel_ids", "At most 100 channels.")
	}
	return f, ids, chosen
}

// ruleInput is the form as a follow-up rule input; Apply checks it.
func ruleInput(f *Form, ids []string) followup.RuleInput {
	title, message, delay := f.Get("title"), f.Get("message"), f.Get("delay")
	generate := f.Get("generate") == "true"
	survey := parley.SurveyType(f.Get("survey"))
	return followup.RuleInput{Title: &title, Message: &message, Generate: &generate, Delay: &delay, Survey: &survey, ChannelIDs: &ids}
}

func (d *Dashboard) createRule(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	f, ids, chosen := readRule(r)
	if f.OK() {
		rule := parley.FollowUpRule{TenantID: s.TenantID, Active: true}
		in := ruleInput(f, ids)
		err := d.store.InTx(ctx, func(q *store.Queries) error {
			if err := in.Apply(ctx, q, &rule); err != nil {
				return err
			}
			var err error
			if rule, err = q.CreateFollowUpRule(ctx, rule); err != nil {
				return err
			}
			return d.ruleSaved(ctx, q, nil, rule)
		})
		if err == nil {
			d.log.InfoContext(ctx, "follow-up rule created from the dashboard", "tenant_id", s.TenantID, "rule_id", rule.ID, "user_id", s.UserID)
			return redirect(w, r, "/followups")
		}
		if !f.Absorb(err, "title") {
			return err
		}
	}
	return d.showFollowUps(w, r, s, http.StatusUnprocessableEntity, f, chosen, true)
}

func (d *Dashboard) ruleForm(w http.ResponseWriter, r *http.Request, s *Session) error {
	rule, err := d.store.GetFollowUpRule(r.Context(), s.TenantID, r.PathValue("id"))
	if err != nil {
		return err
	}
	f := newForm()
	f.Values = map[string]string{"title": rule.Title, "message": rule.Message, "delay": followup.FormatDelay(rule.Delay), "survey": string(rule.Survey)}
	if rule.Generate {
		f.Values["generate"] = "true"
	}
	chosen := map[string]bool{}
	for _, id := range rule.ChannelIDs {
		chosen[id] = true
	}
	return d.showRuleForm(w, r, s, http.StatusOK, rule.ID, f, chosen)
}

func (d *Dashboard) showRuleForm(w http.ResponseWriter, r *http.Request, s *Session, status int, id string, f *Form, chosen map[string]bool) error {
	channels, err := d.ruleChannels(r.Context(), s.TenantID)
	if err != nil {
		return err
	}
	return d.render(w, r, s, status, "followups", followUpsData{Edit: true, ID: id, Form: f, Channels: channels, Chosen: chosen})
}

func (d *Dashboard) saveRule(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	id := r.PathValue("id")
	if _, err := d.store.GetFollowUpRule(ctx, s.TenantID, id); err != nil {
		return err
	}
	f, ids, chosen := readRule(r)
	if f.OK() {
		in := ruleInput(f, ids)
		err := d.store.InTx(ctx, func(q *store.Queries) error {
			rule, err := q.GetFollowUpRule(ctx, s.TenantID, id)
			if err != nil {
				return err
			}
			before := rule
			before.ChannelIDs = slices.Clone(rule.ChannelIDs)
			if err := in.Apply(ctx, q, &rule); err != nil {
				return err
			}
			if rule, err = q.UpdateFollowUpRule(ctx, rule); err != nil {
				return err
			}
			return d.ruleSaved(ctx, q, &before, rule)
		})
		if err == nil {
			return redirect(w, r, "/followups")
		}
		if !f.Absorb(err, "title") {
			return err
		}
	}
	return d.showRuleForm(w, r, s, http.StatusUnprocessableEntity, id, f, chosen)
}

// toggleRule switches a rule on or off; the rule and its history stay.
// htmx swaps the row in place; a plain form post goes back to the list.
func (d *Dashboard) toggleRule(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	active := r.PostFormValue("active") == "true"
	var rule parley.FollowUpRule
	err := d.store.InTx(ctx, func(q *store.Queries) error {
		var err error
		if rule, err = q.GetFollowUpRule(ctx, s.TenantID, r.PathValue("id")); err != nil {
			return err
		}
		before := rule
		rule.Active = active
		if rule, err = q.UpdateFollowUpRule(ctx, rule); err != nil {
			return err
		}
		return d.ruleSaved(ctx, q, &before, rule)
	})
	if err != nil {
		return err
	}
	d.log.InfoContext(ctx, "follow-up rule toggled from the dashboard", "tenant_id", s.TenantID, "rule_id", rule.ID, "active", active, "user_id", s.UserID)
	if !isHTMX(r) {
		return redirect(w, r, "/followups")
	}
	channels, err := d.ruleChannels(ctx, s.TenantID)
	if err != nil {
		return err
	}
	row, err := d.ruleRow(ctx, rule, channels)
	if err != nil {
		return err
	}
	return d.fragment(w, r, s, "followups", "rule-row", row)
}

// ruleSaved makes a saved rule reach the conversations already silent, in
// the saving transaction (followup.Service.RuleSaved).
func (d *Dashboard) ruleSaved(ctx context.Context, q *store.Queries, before *parley.FollowUpRule, after parley.FollowUpRule) error {
	if d.followUpSvc == nil {
		return nil
	}
	return d.followUpSvc.RuleSaved(ctx, q, before, after)
}

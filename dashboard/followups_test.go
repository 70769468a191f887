package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/store"
)

func TestFollowUpRulesCreateEditToggle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, nil)
	tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	w := seed(t, e.st, tn.ID, "Alice", "01")
	b := e.browser()
	token := b.mustSignIn("ana@acme.test")
	ctx := context.Background()

	list := b.get("/followups")
	if !strings.Contains(list.Body, `<dialog id="new-rule"`) || strings.Contains(list.Body, "data-modal") || !strings.Contains(list.Body, `href="/followups?new=1"`) {
		t.Fatal("the list lacks a closed New follow-up dialog and its link")
	}
	if p := b.get("/followups?new=1"); !strings.Contains(p.Body, `aria-labelledby="new-rule-h" open data-modal`) {
		t.Fatal("?new=1 does not open the dialog (the way in without JavaScript)")
	}

	p := b.post("/followups", url.Values{"csrf_token": {token}, "title": {"Still there?"}, "message": {"Can we help with anything else?"},
		"delay": {"2h"}, "survey": {"csat"}, "channel_ids": {w.Channel.ID}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", p.Status, p.Body)
	}
	rules, _, _ := e.st.ListFollowUpRules(ctx, tn.ID, store.Page{})
	if len(rules) != 1 {
		t.Fatalf("%d rules, want 1", len(rules))
	}
	r := rules[0]
	if r.Title != "Still there?" || r.Delay != 2*time.Hour || r.Survey != parley.SurveyCSAT || !r.Active || r.Generate ||
		len(r.ChannelIDs) != 1 || r.ChannelIDs[0] != w.Channel.ID || r.ReplyWindow != 24*time.Hour {
		t.Fatalf("stored rule = %+v", r)
	}

	// The table shows it with its response rate: 1 of 2 sent follow-ups answered.
	for i, phone := range []string{"+5511999990001", "+5511999990002"} {
		conv, err := e.st.CreateConversation(ctx, parley.Conversation{TenantID: tn.ID, ContactPhone: phone})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.ClaimFollowUp(ctx, parley.FollowUp{TenantID: tn.ID, RuleID: r.ID, ConversationID: conv.ID, SessionStartedAt: e.clk.Now(),
			Outcome: parley.FollowUpSent, ReplyWindow: time.Hour}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, err := e.st.MarkFollowUpsReplied(ctx, tn.ID, conv.ID, e.clk.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
	}
	row := regexpFind(t, b.get("/followups").Body, `(?s)(<tr id="rule-`+r.ID+`".*?</tr>)`)
	for _, want := range []string{"Still there?", ">2h<", "Main number", "CSAT (1–5)", "50% <small>(1 of 2 replied)</small>", `data-active="true"`, "Deactivate"} {
		if !strings.Contains(row, want) {
			t.Errorf("the rule's row lacks %s:\n%s", want, row)
		}
	}

	// Edit: the AI writes it now, every channel, three days.
	edit := b.get("/followups/" + r.ID)
	for _, want := range []string{`value="Still there?"`, `value="2h"`, `<option value="csat" selected>`, `value="` + w.Channel.ID + `" checked`} {
		if !strings.Contains(edit.Body, want) {
			t.Errorf("the edit form lacks %s", want)
		}
	}
	if p := b.post("/followups/"+r.ID, url.Values{"csrf_token": {token}, "title": {"Still there?"}, "message": {""}, "generate": {"true"},
		"delay": {"3d"}, "survey": {""}}); p.Status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", p.Status, p.Body)
	}
	got, _ := e.st.GetFollowUpRule(ctx, tn.ID, r.ID)
	if !got.Generate || got.Delay != 72*time.Hour || got.Survey != parley.SurveyNone || len(got.ChannelIDs) != 0 || !got.Active {
		t.Fatalf("edited rule = %+v", got)
	}

	// Deactivate in place (htmx), then activate with a plain post: never deleted.
	p = b.post("/followups/"+r.ID+"/active", url.Values{"csrf_token": {token}, "active": {"false"}}, "HX-Request", "true")
	if p.Status != http.StatusOK || !strings.HasPrefix(strings.TrimSpace(p.Body), `<tr id="rule-`+r.ID+`" data-id="`+r.ID+`" data-active="false">`) ||
		!strings.Contains(p.Body, "All channels") || !strings.Contains(p.Body, "Written by the AI") {
		t.Fatalf("htmx toggle: %d\n%s", p.Status, p.Body)
	}
	if got, err := e.st.GetFollowUpRule(ctx, tn.ID, r.ID); err != nil || got.Active {
		t.Fatalf("after deactivating: %+v %v", got, err)
	}
	if p := b.post("/followups/"+r.ID+"/active", url.Values{"csrf_token": {token}, "active": {"true"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("plain toggle: %d", p.Status)
	}
	if got, _ := e.st.GetFollowUpRule(ctx, tn.ID, r.ID); !got.Active {
		t.Fatal("the rule did not come back on")
	}
}

// The dialog's field errors are the API's own 422 messages, beside the
// field the API names.
func TestFollowUpFieldErrorsAreTheAPIs(t *testing.T) {
	t.Parallel()
	p := apptest.Start(t, store.SQLite, nil, nil)
	tn, key := p.Tenant("Acme")
	other, _ := p.Tenant("Bolt")
	ctx := context.Background()
	theirs, err := p.Store.CreateChannel(ctx, parley.Channel{TenantID: other.ID, Type: parley.ChannelWhatsApp, Name: "Theirs", PhoneNumberID: "900", AccessToken: "x", Active: true})
	if err != nil {
		t.Fatal(err)
	}
	e := appEnv(t, p)
	if _, err := createUser(e, tn.ID, "ana@acme.test"); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	token := b.mustSignIn("ana@acme.test")

	cases := []map[string]any{
		{"title": "  ", "message": "m", "delay": "1d"},
		{"title": "T", "message": "m", "delay": "3x"},
		{"title": "T", "message": "m", "delay": "30s"},
		{"title": "T", "message": "", "delay": "1d"},
		{"title": "T", "message": "m", "delay": "1d", "channel_ids": []string{theirs.ID}},
	}
	for _, body := range cases {
		api := p.Do("POST", "/api/followup-rules", key, body)
		var ae struct {
			Error struct{ Field, Message string } `json:"error"`
		}
		api.JSON(t, &ae)
		if api.Status != http.StatusUnprocessableEntity || ae.Error.Field == "" {
			t.Fatalf("API %v: %d %s", body, api.Status, api.Body)
		}
		form := url.Values{"csrf_token": {token}}
		for k, v := range body {
			switch v := v.(type) {
			case string:
				form.Set(k, v)
			case []string:
				form[k] = v
			}
		}
		page := b.post("/followups", form)
		if page.Status != http.StatusUnprocessableEntity {
			t.Errorf("dashboard %v: %d, want 422", body, page.Status)
			continue
		}
		msg := strings.ToUpper(ae.Error.Message[:1]) + ae.Error.Message[1:] + "."
		want := `<p class="field-error" role="alert">` + strings.ReplaceAll(msg, `"`, "&#34;") + `</p>`
		field := `name="` + ae.Error.Field + `"`
		if ae.Error.Field == "channel_ids" {
			field = `id="rule-channels"`
		}
		at, errAt := strings.Index(page.Body, field), strings.Index(page.Body, `<p class="field-error"`)
		if !strings.Contains(page.Body, want) {
			t.Errorf("dashboard %v does not say the API's %q", body, ae.Error.Message)
		} else if at < 0 || errAt < at {
			t.Errorf("dashboard %v: the error is not beside %s", body, field)
		}
		if !strings.Contains(page.Body, `aria-labelledby="new-rule-h" open data-modal`) {
			t.Errorf("dashboard %v: the dialog is not open again with the error", body)
		}
	}
	// A survey the select does not offer (the API's schema refuses it first,
	// in its own words) is refused by the rule's own check.
	page := b.post("/followups", url.Values{"csrf_token": {token}, "title": {"T"}, "message": {"m"}, "delay": {"1d"}, "survey": {"maybe"}})
	if page.Status != http.StatusUnprocessableEntity || !strings.Contains(page.Body, "&#34;maybe&#34; is not a survey type (csat, nps or yes_no).") {
		t.Errorf("an unknown survey: %d", page.Status)
	}
	if rules, _, _ := p.Store.ListFollowUpRules(ctx, tn.ID, store.Page{}); len(rules) != 0 {
		t.Fatalf("%d rules stored by failed forms", len(rules))
	}
}

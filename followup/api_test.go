package followup_test

import (
	"net/http"
	"testing"

	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

func TestRulesAPI(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		other := newTenantEnv(t, e.p, e.clk)
		cases := []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"no title", map[string]any{"message": "x", "delay": "1h"}, "title"},
			{"blank title", map[string]any{"title": "  ", "message": "x", "delay": "1h"}, "title"},
			{"bad delay", map[string]any{"title": "t", "message": "x", "delay": "soon"}, "delay"},
			{"delay under a minute", map[string]any{"title": "t", "message": "x", "delay": "30s"}, "delay"},
			{"no message", map[string]any{"title": "t", "delay": "1h"}, "message"},
			{"unknown survey", map[string]any{"title": "t", "message": "x", "delay": "1h", "survey": "stars"}, "survey"},
			{"unknown channel", map[string]any{"title": "t", "message": "x", "delay": "1h", "channel_ids": []string{"nope"}}, "channel_ids"},
			{"another tenant's channel", map[string]any{"title": "t", "message": "x", "delay": "1h", "channel_ids": []string{other.channel.ID}}, "channel_ids"},
		}
		for _, tc := range cases {
			r := e.p.Do("POST", "/api/followup-rules", e.key, tc.body)
			var body struct{ Error struct{ Code, Field string } }
			r.JSON(t, &body)
			if r.Status != http.StatusUnprocessableEntity || body.Error.Code != "validation_failed" || body.Error.Field != tc.field {
				t.Errorf("%s: %d %s, want 422 naming %s", tc.name, r.Status, r.Body, tc.field)
			}
		}
		var page struct{ Items []map[string]any }
		e.p.Do("GET", "/api/followup-rules", e.key, nil).JSON(t, &page)
		if len(page.Items) != 0 {
			t.Fatalf("bad rules were stored: %v", page.Items)
		}

		id := e.rule(map[string]any{"title": "Nudge", "message": "Hi?", "delay": "3d", "survey": "yes_no"})
		got := e.p.Do("GET", "/api/followup-rules/"+id, e.key, nil).Map(t)
		if got["delay"] != "3d" || got["reply_window"] != "1d" || got["active"] != true || got["survey"] != "yes_no" {
			t.Fatalf("rule = %v", got)
		}
		r := e.p.Do("PATCH", "/api/followup-rules/"+id, e.key, map[string]any{"active": false, "delay": "90m"})
		if r.Status != 200 || r.Map(t)["active"] != false || r.Map(t)["delay"] != "1h30m" || r.Map(t)["title"] != "Nudge" {
			t.Fatalf("deactivate = %d %s", r.Status, r.Body)
		}
		if r := e.p.Do("PATCH", "/api/followup-rules/"+id, e.key, map[string]any{"delay": "0m"}); r.Status != 422 {
			t.Fatalf("bad patch = %d", r.Status)
		}
		for _, path := range []string{"/api/followup-rules/" + id, "/api/followup-rules/" + id + "/stats"} {
			if r := e.p.Do("GET", path, other.key, nil); r.Status != http.StatusNotFound {
				t.Errorf("another tenant reads %s: %d", path, r.Status)
			}
		}
		if r := e.p.Do("DELETE", "/api/followup-rules/"+id, e.key, nil); r.Status != http.StatusNoContent {
			t.Fatalf("delete = %d", r.Status)
		}
		if r := e.p.Do("GET", "/api/followup-rules/"+id, e.key, nil); r.Status != http.StatusNotFound {
			t.Fatalf("deleted rule = %d", r.Status)
		}

		// Appointments: per customer, and only the tenant's own customers.
		c := e.p.Do("POST", "/api/customers", e.key, map[string]any{"phone": "+5511999990080"}).Map(t)
		if r := e.p.Do("POST", "/api/appointments", other.key, map[string]any{"customer_id": c["id"], "starts_at": "2030-04-01T10:00:00Z"}); r.Status != 422 {
			t.Fatalf("appointment for another tenant's customer = %d %s", r.Status, r.Body)
		}
		a := e.p.Do("POST", "/api/appointments", e.key, map[string]any{"customer_id": c["id"], "starts_at": "2030-04-01T10:00:00Z"})
		if a.Status != 201 || a.Map(t)["status"] != "scheduled" {
			t.Fatalf("appointment = %d %s", a.Status, a.Body)
		}
		e.p.Do("GET", "/api/appointments", e.key, nil).JSON(t, &page)
		if len(page.Items) != 1 {
			t.Fatalf("appointments = %v", page.Items)
		}
	})
}

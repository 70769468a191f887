package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/store"
)

// Every /api route, whatever its method, refuses a request without a valid
// key. The route list comes from the OpenAPI document.
func TestEveryAPIRouteNeedsAKey(t *testing.T) {
	t.Parallel()
	p := apptest.Start(t, store.SQLite, nil, nil)
	n := 0
	for _, op := range apiOperations(t, p) {
		method, path, concrete := op.method, op.path, op.concrete
		for _, key := range []string{"", "pk_not_a_key", "Basic abc"} {
			r := p.Do(strings.ToUpper(method), concrete, key, map[string]any{})
			want := "unauthorized"
			if path == "/api/agents/sales/leadFollowUp" {
				want = "UNAUTHORIZED" // that endpoint keeps its documented error contract
			}
			if r.Status != http.StatusUnauthorized || r.ErrorCode() != want {
				t.Errorf("%s %s with key %q = %d %s, want 401", method, path, key, r.Status, r.Body)
			}
		}
		n++
	}
	if n < 20 {
		t.Fatalf("only %d API operations found", n)
	}
}

// Hostile text is stored as text: SQL and HTML come back byte for byte,
// invalid UTF-8 is replaced, huge and deep JSON is refused without a 5xx.
// (The dashboard's tests check the same text is shown escaped.)
func TestHostileInputIsStoredSafelyOrRefused(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, p *apptest.Parley) {
		_, key := p.Tenant("A")
		hostile := []string{
			`Robert'); DROP TABLE customers;--`,
			`<script>alert("x")</script><img src=x onerror=alert(1)>`,
			"emoji 🙂 and RTL \u202e text and NUL-free control \u0007",
			strings.Repeat("ü", 150),
		}
		for _, name := range hostile {
			r := p.Do("POST", "/api/documents", key, map[string]any{"title": name, "body": name})
			if r.Status != 201 {
				t.Fatalf("create with %q = %d %s", name, r.Status, r.Body)
			}
			var d struct{ ID, Title, Body string }
			p.Do("GET", "/api/documents/"+r.Map(t)["id"].(string), key, nil).JSON(t, &d)
			if d.Title != name || d.Body != name {
				t.Fatalf("stored %q, got back %q", name, d.Title)
			}
		}
		refused := []struct {
			name string
			body string
		}{
			{"deep json", `{"title": "x", "body": ` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`},
			{"huge number", `{"phone": 1e999999}`},
			{"oversized", `{"title": "` + strings.Repeat("a", 2<<20) + `"}`},
			{"not an object", `[1,2,3]`},
			{"null", `null`},
		}
		for _, tc := range refused {
			r := p.Do("POST", "/api/documents", key, tc.body)
			if r.Status >= 500 || r.Status < 400 || r.ErrorCode() == "" {
				t.Errorf("%s: %d %s, want a 4xx with a code", tc.name, r.Status, r.Body[:min(len(r.Body), 200)])
			}
		}
		// Invalid UTF-8 is replaced by U+FFFD, as JSON decoding does, never stored raw.
		r := p.Do("POST", "/api/documents", key, "{\"title\": \"ok\xff\xfe\"}")
		if r.Status != 201 || r.Map(t)["title"] != "ok\uFFFD\uFFFD" {
			t.Fatalf("invalid utf-8: %d %s", r.Status, r.Body)
		}
		var page struct{ Items []any }
		p.Do("GET", "/api/documents?limit=200", key, nil).JSON(t, &page)
		if len(page.Items) != len(hostile)+1 {
			t.Fatalf("%d documents stored, want only the %d accepted ones", len(page.Items), len(hostile))
		}
	})
}

// A body sent with another Content-Type than JSON is malformed input, as the
// README's error table says: 400 invalid_request, with a message that says
// what to send, and nothing stored.
func TestWrongContentTypeIsInvalidRequest(t *testing.T) {
	t.Parallel()
	p := apptest.Start(t, store.SQLite, nil, nil)
	_, key := p.Tenant("A")
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/xml"} {
		req, _ := http.NewRequest("POST", p.URL()+"/api/documents", strings.NewReader(`{"title": "t", "body": "b"}`))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct {
				Code, Message, Field string
				Details              []struct{ Field, Message string }
			}
		}
		err = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusBadRequest || body.Error.Code != "invalid_request" ||
			!strings.Contains(body.Error.Message, "application/json") || body.Error.Field != "" {
			t.Errorf("Content-Type %s: %d %+v, want 400 invalid_request saying to send application/json", ct, res.StatusCode, body.Error)
		}
		for _, d := range body.Error.Details {
			if d.Field == "" || d.Message == "" {
				t.Errorf("Content-Type %s: a detail without a field or a message: %+v", ct, body.Error.Details)
			}
		}
	}
	var page struct{ Items []any }
	p.Do("GET", "/api/documents", key, nil).JSON(t, &page)
	if len(page.Items) != 0 {
		t.Fatalf("%d documents stored from refused bodies", len(page.Items))
	}
}

// With PARLEY_METRICS_TOKEN set, /metrics answers only to that bearer token.
func TestMetricsNeedTheirTokenWhenSet(t *testing.T) {
	t.Parallel()
	p := apptest.Start(t, store.SQLite, nil, func(c *config.Config) { c.MetricsToken = "scrape-s3cret" })
	for _, key := range []string{"", "wrong", "scrape-s3cre"} {
		if r := p.Do("GET", "/metrics", key, nil); r.Status != http.StatusUnauthorized || r.ErrorCode() != "unauthorized" || strings.Contains(string(r.Body), "parley_http") {
			t.Errorf("/metrics with token %q: %d %s, want 401", key, r.Status, r.Body[:min(len(r.Body), 200)])
		}
	}
	if r := p.Do("GET", "/metrics", "scrape-s3cret", nil); r.Status != 200 || !strings.Contains(string(r.Body), "parley_http_requests_total") {
		t.Fatalf("/metrics with the token: %d", r.Status)
	}
	open := apptest.Start(t, store.SQLite, nil, nil)
	if r := open.Do("GET", "/metrics", "", nil); r.Status != 200 {
		t.Fatalf("/metrics without a configured token: %d, want open", r.Status)
	}
}

// A real /api path with a method it does not take is 405 with Allow (the
// dashboard mounted at "/" used to answer 404); an unknown /api path is a
// JSON 404.
func TestWrongMethodOnAnAPIPathIs405(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, p *apptest.Parley) {
		_, key := p.Tenant("Acme")
		r := p.Do("DELETE", "/api/tickets", key, nil)
		if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET" || r.ErrorCode() != "invalid_request" {
			t.Fatalf("DELETE /api/tickets = %d, Allow %q, %s", r.Status, r.Header.Get("Allow"), r.Body)
		}
		r = p.Do("PUT", "/api/followup-rules/0190b3a0-0000-7000-8000-000000000000", key, nil)
		if r.Status != http.StatusMethodNotAllowed || !strings.Contains(r.Header.Get("Allow"), "PATCH") {
			t.Fatalf("PUT /api/followup-rules/{id} = %d, Allow %q", r.Status, r.Header.Get("Allow"))
		}
		if r := p.Do("GET", "/api/nothing-here", key, nil); r.Status != http.StatusNotFound || r.ErrorCode() != "not_found" {
			t.Fatalf("GET /api/nothing-here = %d %s", r.Status, r.Body)
		}
	})
}

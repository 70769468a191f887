package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/store"
)

// fuzzRoute is an API route the fuzz test posts bodies to, and the table
// whose rows it may add (empty: it creates nothing).
type fuzzRoute struct {
	method, path, table string
}

// Random bodies posted to API routes of a running Parley never get a 5xx,
// and never leave a half-written object: a 201 adds exactly one row that
// reads back, anything refused is a 4xx with a code and adds nothing, and
// a refused update changes nothing.
func FuzzAPIJSON(f *testing.F) {
	p := apptest.Start(f, store.SQLite, nil, func(c *config.Config) { c.APIRateLimit = 0 })
	tn, key := p.Tenant("Fuzz")
	ctx := context.Background()
	conv, err := p.Store.CreateConversation(ctx, parley.Conversation{TenantID: tn.ID, ContactPhone: "+5511999990000"})
	if err != nil {
		f.Fatal(err)
	}
	note, err := p.Store.CreateNotification(ctx, parley.Notification{TenantID: tn.ID, Type: parley.NotificationQuestion, Status: parley.NotificationRequested,
		ConversationID: conv.ID, Requested: map[string]string{"question": "fuzz?"},
		AnswerSchema: map[string]any{"type": "object", "properties": map[string]any{"answer": map[string]any{"type": "string", "minLength": 1}}, "required": []any{"answer"}}})
	if err != nil {
		f.Fatal(err)
	}
	routes := []fuzzRoute{
		{"POST", "/api/customers", "customers"},
		{"POST", "/api/documents", "documents"},
		{"POST", "/api/followup-rules", "followup_rules"},
		{"POST", "/api/channels", "channels"},
		{"POST", "/api/staff", "staff_members"},
		{"POST", "/api/agents", "agents"},
		{"PATCH", "/api/tenant", ""},
		{"POST", "/api/notifications/" + note.ID + "/answer", ""},
		{"POST", "/api/conversations/" + conv.ID + "/follow-up", ""},
	}
	seeds := []string{
		`{"phone": "+5511988887777", "name": "Ana"}`,
		`{"title": "Hours", "body": "We open at 9."}`,
		`{"title": "Nudge", "message": "Still there?", "delay": "2h"}`,
		`{"type": "email", "name": "Mail"}`,
		`{"phone": "+5511977776666", "name": "Bia", "type": "sales"}`,
		`{"name": "Caio"}`,
		`{"time_zone": "America/Sao_Paulo", "features": {"followups": true}}`,
		`{"answer": "Yes, on Sundays."}`,
		`{}`,
		`{"title": "x", "body": ` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`,
		`{"phone": 1e999999}`, `{"delay": "999999999999999999999d"}`, `{"name": 18446744073709551616}`,
		"{\"name\": \"ok\xff\xfe\", \"phone\": \"+55\"}",
		`{"title": "Robert'); DROP TABLE documents;--", "body": "<script>alert(1)</script>"}`,
		`{"type": "whatsapp", "name": "<img src=x onerror=alert(1)>", "phone_number_id": "1' OR '1'='1", "access_token": "t"}`,
		`[1,2,3]`, `null`, `"string"`, `{"a":`, ``, `{"time_zone": "Mars/Olympus"}`, `{"answer": ""}`, `{"answer": 42}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	count := func(t *testing.T, table string) int {
		var n int
		if err := p.Store.DB().QueryRow(`SELECT count(*) FROM `+table+` WHERE tenant_id = $1`, tn.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		rt := routes[int(which)%len(routes)]
		before, state := 0, ""
		if rt.table != "" {
			before = count(t, rt.table)
		} else {
			state = snapshot(t, p, key, rt)
		}
		r := do(t, p, rt.method, rt.path, key, body)
		if r.Status >= 500 {
			t.Fatalf("%s %s %q = %d %s", rt.method, rt.path, body, r.Status, r.Body)
		}
		refused := r.Status >= 400
		if refused && r.ErrorCode() == "" {
			t.Fatalf("%s %s %q = %d without an error code: %s", rt.method, rt.path, body, r.Status, r.Body)
		}
		if rt.table == "" {
			if refused && snapshot(t, p, key, rt) != state {
				t.Fatalf("%s %s %q was refused (%d) but changed the object", rt.method, rt.path, body, r.Status)
			}
			return
		}
		after := count(t, rt.table)
		switch {
		case r.Status == 201:
			var made struct{ ID string }
			_ = json.Unmarshal(r.Body, &made)
			id := made.ID
			if after != before+1 || id == "" || do(t, p, "GET", rt.path+"/"+id, key, nil).Status != 200 {
				t.Fatalf("%s %s %q = 201 but %d rows became %d (id %q)", rt.method, rt.path, body, before, after, id)
			}
		case after != before:
			t.Fatalf("%s %s %q = %d but %d rows became %d", rt.method, rt.path, body, r.Status, before, after)
		}
	})
}

// snapshot reads what a route without a table of its own may change.
func snapshot(t *testing.T, p *apptest.Parley, key string, rt fuzzRoute) string {
	switch {
	case rt.path == "/api/tenant":
		return string(do(t, p, "GET", "/api/tenant", key, nil).Body)
	case strings.HasPrefix(rt.path, "/api/notifications/"):
		// What an answer writes; the delivery job of an earlier answer
		// moves other fields in the background.
		var n struct {
			Status     string         `json:"status"`
			Answered   map[string]any `json:"answered"`
			AnsweredBy string         `json:"answered_by"`
			Answers    int            `json:"answers"`
		}
		_ = json.Unmarshal(do(t, p, "GET", strings.TrimSuffix(rt.path, "/answer"), key, nil).Body, &n)
		b, _ := json.Marshal(n)
		return string(b)
	}
	return ""
}

var fuzzClient = &http.Client{Timeout: 10 * time.Second}

// do is Parley.Do for fuzz targets, which must not report to the F.
func do(t *testing.T, p *apptest.Parley, method, path, key string, body []byte) apptest.Response {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, p.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := fuzzClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s %q: %v", method, path, body, err) // a hang is a failure too
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return apptest.Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

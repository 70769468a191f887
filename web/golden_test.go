package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// The JSON the main routes return, compared with testdata/golden: a field
// added, renamed or retyped shows in review as a change to a golden file
// (go test ./web -run TestAPIGolden -update rewrites them). Ids, keys and
// times are replaced by placeholders, numbered in order of appearance.
func TestAPIGolden(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	p := apptest.Start(t, store.SQLite, clk, nil)
	tn, key := p.Tenant("Acme")
	ctx := context.Background()

	must := func(r apptest.Response, want int) apptest.Response {
		t.Helper()
		if r.Status != want {
			t.Fatalf("%d %s, want %d", r.Status, r.Body, want)
		}
		return r
	}
	var ch parley.Channel
	must(p.Do("POST", "/api/channels", key, map[string]any{"type": "whatsapp", "name": "Main", "phone_number_id": "106000000000001",
		"access_token": "token"}), http.StatusCreated).JSON(t, &ch)
	var cu parley.Customer
	must(p.Do("POST", "/api/customers", key, map[string]any{"phone": "+5511999990001", "name": "Ana", "email": "ana@example.com", "language": "pt"}),
		http.StatusCreated).JSON(t, &cu)
	must(p.Do("POST", "/api/agents", key, map[string]any{"name": "Caio", "email": "caio@acme.example", "available": false}), http.StatusCreated)

	at := clk.Now().Add(-time.Minute)
	conv, err := p.Store.CreateConversation(ctx, parley.Conversation{TenantID: tn.ID, ContactPhone: cu.Phone, CustomerID: cu.ID,
		ChannelID: ch.ID, Language: "pt", LastCustomerMessageAt: &at})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Store.InsertMessage(ctx, parley.Message{TenantID: tn.ID, ConversationID: conv.ID, Role: parley.RoleCustomer,
		Content: "Do you open on Sundays?", ChannelID: ch.ID, ChannelMessageID: "wamid.G1", Status: parley.StatusReceived, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Store.CreateTicket(ctx, parley.Ticket{TenantID: tn.ID, ConversationID: conv.ID, Reason: "asks for a human"}); err != nil {
		t.Fatal(err)
	}
	must(p.Do("POST", "/api/template-mappings/defaults", key, nil), http.StatusOK)

	for _, c := range []struct{ name, path string }{
		{"tenant", "/api/tenant"},
		{"channels", "/api/channels"},
		{"customers", "/api/customers"},
		{"agents", "/api/agents"},
		{"conversations", "/api/conversations"},
		{"conversation", "/api/conversations/" + conv.ID},
		{"messages", "/api/conversations/" + conv.ID + "/messages"},
		{"events", "/api/conversations/" + conv.ID + "/events"},
		{"tickets", "/api/tickets"},
		{"template_mappings", "/api/template-mappings"},
		{"usage", "/api/usage"},
		{"error_not_found", "/api/conversations/01900000-0000-7000-8000-000000000000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := p.Do("GET", c.path, key, nil)
			got := normalize(t, r.Status, r.Body)
			path := filepath.Join("testdata", "golden", c.name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("GET %s changed; if that is meant, run go test ./web -run TestAPIGolden -update\n got: %s\nwant: %s", c.path, got, want)
			}
		})
	}
}

var (
	uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE = regexp.MustCompile(`"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})"`)
)

// normalize pretty-prints a response with its status, ids numbered in
// order of appearance and times replaced.
func normalize(t *testing.T, status int, body []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, body)
	}
	out, err := json.MarshalIndent(map[string]any{"status": status, "body": v}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	out = uuidRE.ReplaceAllFunc(out, func(id []byte) []byte {
		if _, ok := ids[string(id)]; !ok {
			ids[string(id)] = fmt.Sprintf("<id-%d>", len(ids)+1)
		}
		return []byte(ids[string(id)])
	})
	out = timeRE.ReplaceAll(out, []byte(`"<time>"`))
	return append(out, '\n')
}

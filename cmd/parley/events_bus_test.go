package main

import (
	"context"
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/eventbus"
	"github.com/parleyhq/parley/intake/nats/natstest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// TestEventsSurviveSIGKILL: with the broker down, customers write and
// `parley serve` is killed with SIGKILL; after a restart and the broker's
// return, every event of the log is on the bus once, in log order per
// conversation.
func TestEventsSurviveSIGKILL(t *testing.T) {
	// Beside the other kill test (TestMain lets four run at once); its
	// waits are generous (a minute for the bus, ten seconds to start).
	t.Parallel()
	if testing.Short() {
		t.Skip("starts and kills real processes")
	}
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		broker := natstest.StartServer(t)
		graph := whatsapptest.NewFakeGraph()
		t.Cleanup(graph.Close)
		const number, secret = "106000000000777", "app-secret"
		graph.AddNumber(whatsapptest.Number{ID: number, Token: "tok", Display: "+1 555-000-1111", VerifiedName: "Acme"})
		dsn := storetest.DSN(t, engine)
		dir := t.TempDir()
		env := []string{"PARLEY_DATABASE_URL=" + dsn, "PARLEY_WHATSAPP_GRAPH_URL=" + graph.URL,
			"PARLEY_WHATSAPP_APP_SECRET=" + secret, "PARLEY_EVENTS_URL=" + broker.URL + "/EVENTS"}
		first := startServer(t, dir, env...)
		first.waitHealthy(t, 10*time.Second)
		_, key := runTenantCreate(t, dir, env...)
		chID := createChannel(t, first.url, key, `{"type":"whatsapp","name":"Main","phone_number_id":"`+number+`","access_token":"tok"}`)
		waitFor(t, "the channel check", func() bool {
			_, got := apiGet(t, first.url+"/api/channels/"+chID, key)
			settings, _ := got["settings"].(map[string]any)
			return settings["check"] == "ok"
		})

		s, err := store.Open(context.Background(), dsn, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		tenant := tenantOf(t, s, chID)
		customers := []string{"5511999990301", "5511999990302", "5511999990303", "5511999990304"}
		write := func(srv *server, text string) {
			for _, c := range customers {
				body := whatsapptest.TextWebhook(whatsapptest.Inbound{PhoneNumberID: number, From: c, Name: "Ana"}, text)
				whatsapptest.MustPost(t, srv.url, secret, body)
			}
		}
		write(first, "Do you open on Sundays?")
		waitFor(t, "the first events on the bus", func() bool { return len(natstest.Messages(t, broker.URL, "EVENTS")) >= len(customers) })

		broker.Stop()
		write(first, "And on holidays?")
		waitFor(t, "the second messages in the log", func() bool {
			var n int
			err := s.DB().QueryRow(`SELECT COUNT(*) FROM messages WHERE tenant_id = $1 AND role = 'customer'`, tenant).Scan(&n)
			return err == nil && n == 2*len(customers)
		})
		if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		first.cmd.Wait()
		backlog, err := s.EventBacklog(context.Background())
		if err != nil || backlog == 0 {
			t.Fatalf("backlog after the kill = %d, %v: want events waiting", backlog, err)
		}

		second := startServer(t, dir, env...)
		second.waitHealthy(t, 10*time.Second)
		broker.Start()
		var want, got map[string][]string
		defer func() {
			if t.Failed() { // say which events differ, by name, and what the server logged
				names := eventNames(t, s, tenant)
				for conv := range want {
					t.Logf("conversation %s\n  log: %v\n  bus: %v", conv, named(want[conv], names), named(got[conv], names))
				}
				t.Logf("server log:\n%s", second.stderr.String())
			}
		}()
		waitFor(t, "every event of the log on the bus", func() bool {
			want, got = logEvents(t, s, tenant), busEvents(t, broker.URL)
			return fmt.Sprint(want) == fmt.Sprint(got)
		})
		n := 0
		for _, ids := range want {
			n += len(ids)
		}
		t.Logf("%d events in %d conversations, %d waited through the kill", n, len(want), backlog)
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	apptest.EventuallyWithin(t, 60*time.Second, what, cond)
}

func tenantOf(t *testing.T, s *store.Store, channelID string) string {
	t.Helper()
	var tenant string
	if err := s.DB().QueryRow(`SELECT tenant_id FROM channels WHERE id = $1`, channelID).Scan(&tenant); err != nil {
		t.Fatal(err)
	}
	return tenant
}

// logEvents lists the tenant's events per conversation, in log order.
func logEvents(t *testing.T, s *store.Store, tenant string) map[string][]string {
	t.Helper()
	rows, err := s.DB().Query(`SELECT conversation_id, id FROM conversation_events WHERE tenant_id = $1 ORDER BY id`, tenant)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var conv, id string
		if err := rows.Scan(&conv, &id); err != nil {
			t.Fatal(err)
		}
		out[conv] = append(out[conv], id)
	}
	return out
}

// eventNames maps the tenant's event ids to their names.
func eventNames(t *testing.T, s *store.Store, tenant string) map[string]string {
	t.Helper()
	rows, err := s.DB().Query(`SELECT id, name FROM conversation_events WHERE tenant_id = $1`, tenant)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		out[id] = name
	}
	return out
}

func named(ids []string, names map[string]string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id + " " + names[id]
	}
	return out
}

// busEvents lists what the stream holds per conversation, in stream order.
func busEvents(t *testing.T, url string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, m := range natstest.Messages(t, url, "EVENTS") {
		var ce eventbus.CloudEvent
		if err := json.Unmarshal(m.Data(), &ce); err != nil {
			t.Fatal(err)
		}
		out[ce.ConversationID] = append(out[ce.ConversationID], ce.ID)
	}
	return out
}

package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/leads"
	"github.com/parleyhq/parley/notify"
	"github.com/parleyhq/parley/store"

	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/store/storetest"
)

// A channel's credentials check runs as a job; the tenant sees it, and its
// outcome, in GET /api/jobs, and no other tenant does.
func TestJobsAreVisiblePerTenant(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		graph := whatsapptest.NewFakeGraph()
		t.Cleanup(graph.Close)
		graph.AddNumber(whatsapptest.Number{ID: "1060001", Token: "good-token", Display: "+1 555-000-1111", VerifiedName: "Acme"})
		p := apptest.Start(t, e, nil, func(c *config.Config) { c.WhatsAppGraphURL = graph.URL })
		_, keyA := p.Tenant("A")
		_, keyB := p.Tenant("B")

		good := p.Do("POST", "/api/channels", keyA, map[string]any{"type": "whatsapp", "name": "Main", "phone_number_id": "1060001", "access_token": "good-token"})
		bad := p.Do("POST", "/api/channels", keyA, map[string]any{"type": "whatsapp", "name": "Old", "phone_number_id": "1060002", "access_token": "revoked"})
		if good.Status != 201 || bad.Status != 201 {
			t.Fatalf("create channels: %d %d", good.Status, bad.Status)
		}
		type jobs struct {
			Items []struct {
				Kind, State string
				Attempt     int
			}
		}
		var list jobs
		apptest.Eventually(t, "both checks completed", func() bool {
			p.Do("GET", "/api/jobs?kind=check_channel&state=completed", keyA, nil).JSON(t, &list)
			return len(list.Items) == 2
		})
		var ch struct{ Settings map[string]string }
		p.Do("GET", "/api/channels/"+bad.Map(t)["id"].(string), keyA, nil).JSON(t, &ch)
		if ch.Settings["check"] != "failed" || ch.Settings["check_error"] == "" {
			t.Fatalf("a rejected token is not recorded on the channel: %v", ch.Settings)
		}
		p.Do("GET", "/api/channels/"+good.Map(t)["id"].(string), keyA, nil).JSON(t, &ch)
		if ch.Settings["check"] != "ok" || ch.Settings["verified_name"] != "Acme" {
			t.Fatalf("checked channel: %v", ch.Settings)
		}
		p.Do("GET", "/api/jobs", keyB, nil).JSON(t, &list)
		if len(list.Items) != 0 {
			t.Fatalf("tenant B sees %d of A's jobs", len(list.Items))
		}
		if r := p.Do("GET", "/api/jobs?state=exploded", keyA, nil); r.Status != 422 {
			t.Fatalf("bad state filter = %d", r.Status)
		}
	})
}

// Every job kind Parley inserts for a tenant shows in that tenant's
// GET /api/jobs and in no other's, the Follow-Up Request included, whose
// payload names only the conversation.
func TestEveryJobKindShowsForItsTenantOnly(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		p := apptest.Start(t, e, nil, nil)
		a, keyA := p.Tenant("A")
		_, keyB := p.Tenant("B")
		ctx := context.Background()
		conv, err := p.Store.CreateConversation(ctx, parley.Conversation{TenantID: a.ID, ContactPhone: "+15550001111", Language: "en"})
		if err != nil {
			t.Fatal(err)
		}
		kinds := []river.JobArgs{
			channel.SendMessageArgs{TenantID: a.ID, ConversationID: conv.ID, MessageID: "m1"},
			event.GenerateAIAgentAnswerArgs{TenantID: a.ID, ConversationID: conv.ID, MessageID: "m1"},
			event.AssignWaitingTicketsArgs{TenantID: a.ID},
			channel.ReceivedArgs{TenantID: a.ID, ChannelID: "c1", InboxIDs: []string{"i1"}},
			notify.RequestArgs{ID: "n1", TenantID: a.ID, ConversationID: conv.ID, Type: "question", Key: "k1"},
			notify.DeliverArgs{TenantID: a.ID, NotificationID: "n1", Answer: 1, By: "api"},
			channel.CheckChannelArgs{TenantID: a.ID, ChannelID: "c1"},
			leads.StepArgs{TenantID: a.ID, SequenceID: "s1", StepID: "st1"},
			followup.RequestArgs{ID: conv.ID},
		}
		// Far in the future, so the workers leave them be.
		later := time.Now().Add(24 * time.Hour)
		err = p.Store.InTx(ctx, func(q *store.Queries) error {
			for _, k := range kinds {
				if _, err := p.Jobs.InsertTx(ctx, q.Tx(), k, &river.InsertOpts{ScheduledAt: later}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		type jobs struct{ Items []struct{ Kind string } }
		for _, k := range kinds {
			var list jobs
			p.Do("GET", "/api/jobs?kind="+k.Kind(), keyA, nil).JSON(t, &list)
			if len(list.Items) != 1 || list.Items[0].Kind != k.Kind() {
				t.Errorf("tenant A's %s job: listed %v", k.Kind(), list.Items)
			}
			p.Do("GET", "/api/jobs?kind="+k.Kind(), keyB, nil).JSON(t, &list)
			if len(list.Items) != 0 {
				t.Errorf("tenant B sees A's %s job", k.Kind())
			}
		}
	})
}

package app_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/llm/llmtest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

const (
	secret   = "e2e-app-secret"
	numberID = "106000000000123"
	token    = "e2e-channel-token"
)

// world is a whole Parley with the outside world faked on loopback.
type world struct {
	*apptest.Parley
	graph *whatsapptest.FakeGraph
	model *llmtest.Server
	key   string
}

func newWorld(t *testing.T, engine string, responder llmtest.Responder) *world {
	graph := whatsapptest.NewFakeGraph()
	t.Cleanup(graph.Close)
	graph.AddNumber(whatsapptest.Number{ID: numberID, Token: token, Display: "+1 555-000-0123", VerifiedName: "Acme"})
	model := llmtest.Start(llmtest.Options{APIKey: "llm-key", Responder: responder})
	t.Cleanup(model.Close)
	p := apptest.Start(t, store.Engine(engine), nil, func(c *config.Config) {
		c.WhatsAppGraphURL, c.WhatsAppAppSecret = graph.URL, secret
		c.LLMBaseURL, c.LLMAPIKey, c.LLMModel = model.URL, "llm-key", "fake-model"
	})
	_, key := p.Tenant("Acme")
	w := &world{Parley: p, graph: graph, model: model, key: key}
	for _, call := range []struct {
		path string
		body map[string]any
	}{
		{"/api/channels", map[string]any{"type": "whatsapp", "name": "Main", "phone_number_id": numberID, "access_token": token}},
		{"/api/customers", map[string]any{"phone": "+5511999990000", "name": "Ana Lima", "language": "pt"}},
		{"/api/documents", map[string]any{"title": "Opening hours", "body": "We open at 9:00 and close at 18:00, Monday to Saturday.", "category": "FAQ"}},
		{"/api/agents", map[string]any{"name": "Bea"}},
	} {
		if r := p.Do("POST", call.path, key, call.body); r.Status != 201 {
			t.Fatalf("POST %s = %d %s", call.path, r.Status, r.Body)
		}
	}
	return w
}

// write posts a signed text webhook from Ana, as Meta would.
func (w *world) write(t *testing.T, wamid, text string) {
	t.Helper()
	body := whatsapptest.TextWebhook(whatsapptest.Inbound{PhoneNumberID: numberID, From: "5511999990000", Name: "Ana Lima", ID: wamid, Time: time.Now()}, text)
	whatsapptest.MustPost(t, w.URL(), secret, body)
}

func (w *world) waitSent(t *testing.T, n int) []whatsapptest.SentMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sent, err := w.graph.WaitSent(ctx, n)
	if err != nil {
		t.Fatalf("waiting for %d sends at the Graph API (have %d): %v\n%s", n, len(sent), err, w.Logs.String())
	}
	return sent
}

func answer(text string, ticket bool) llmtest.Reply {
	return llmtest.JSON(map[string]any{"reason": "test", "answer": text, "open_ticket": ticket})
}

// The message's walk end to end: a signed webhook, the AI agent answering
// from the knowledge base, the answer at the Graph API, the delivery
// status coming back; then the hand-off to a human and back.
func TestAMessagesWalkEndToEnd(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		w := newWorld(t, string(e), func(r llmtest.Request) llmtest.Reply {
			switch {
			case strings.Contains(r.LastUser(), "person"):
				return answer("Passing you to a colleague.", true)
			case strings.Contains(r.LastUser(), "open"):
				return answer("Abrimos às 9:00.", false)
			}
			return answer("De nada!", false)
		})
		w.write(t, "wamid.E2E.1", "When do you open?")
		sent := w.waitSent(t, 1)
		if sent[0].To != "+5511999990000" && sent[0].To != "5511999990000" || sent[0].Text != "Abrimos às 9:00." {
			t.Fatalf("sent %+v", sent[0])
		}
		reqs := w.model.Requests()
		if len(reqs) == 0 || !strings.Contains(reqs[0].Prompt(), "We open at 9:00") {
			t.Fatalf("the knowledge passage was not in the prompt")
		}

		var convs struct {
			Items []struct{ ID string }
		}
		w.Do("GET", "/api/conversations", w.key, nil).JSON(t, &convs)
		if len(convs.Items) != 1 {
			t.Fatalf("%d conversations", len(convs.Items))
		}
		convID := convs.Items[0].ID
		// Meta answers the send before Parley commits the wamid; its receipt
		// comes later still. Wait for the commit, as real time would.
		apptest.Eventually(t, "the wamid stored", func() bool {
			var detail struct {
				Messages []struct {
					ChannelMessageID string `json:"channel_message_id"`
				}
			}
			w.Do("GET", "/api/conversations/"+convID, w.key, nil).JSON(t, &detail)
			for _, m := range detail.Messages {
				if m.ChannelMessageID == sent[0].ID {
					return true
				}
			}
			return false
		})

		// The delivery receipt comes back and moves the message on.
		status := whatsapptest.StatusWebhook(whatsapptest.StatusEvent{PhoneNumberID: numberID, MessageID: sent[0].ID, Status: "delivered", RecipientID: "5511999990000", Time: time.Now()})
		req, _ := http.NewRequest("POST", w.URL()+"/webhooks/whatsapp", bytes.NewReader(status))
		req.Header.Set("X-Hub-Signature-256", whatsapptest.Sign(secret, status))
		req.Header.Set("Content-Type", "application/json")
		if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
			t.Fatalf("status webhook: %v", err)
		}
		apptest.Eventually(t, "the answer marked delivered", func() bool {
			var detail struct {
				Messages []struct{ Role, Status string }
			}
			w.Do("GET", "/api/conversations/"+convID, w.key, nil).JSON(t, &detail)
			for _, m := range detail.Messages {
				if m.Role == "ai" && m.Status == "delivered" {
					return true
				}
			}
			return false
		})

		// A person is asked for: a ticket, assigned to Bea; her reply goes out.
		w.write(t, "wamid.E2E.2", "Can I talk to a person?")
		w.waitSent(t, 2)
		ticketID := assignedTicket(t, w.Parley, w.key)
		calls := w.model.Calls()
		w.write(t, "wamid.E2E.3", "Hello? Anyone?")
		apptest.Eventually(t, "the message routed to the human side", func() bool {
			return w.hasEvent(t, convID, event.GenerateAgentAnswer)
		})
		if r := w.Do("POST", "/api/tickets/"+ticketID+"/reply", w.key, map[string]any{"text": "Olá Ana, aqui é a Bea."}); r.Status != http.StatusAccepted {
			t.Fatalf("reply = %d %s", r.Status, r.Body)
		}
		sent = w.waitSent(t, 3)
		if sent[2].Text != "Olá Ana, aqui é a Bea." {
			t.Fatalf("third send = %q, want the agent's reply", sent[2].Text)
		}
		if w.model.Calls() != calls {
			t.Fatal("the AI answered while a human held the ticket")
		}
		if r := w.Do("POST", "/api/tickets/"+ticketID+"/close", w.key, nil); r.Status >= 300 {
			t.Fatalf("close = %d %s", r.Status, r.Body)
		}
		w.write(t, "wamid.E2E.4", "Thanks!")
		sent = w.waitSent(t, 4)
		if sent[3].Text != "De nada!" {
			t.Fatalf("after the ticket closed the AI should answer; got %q", sent[3].Text)
		}

		// The log shows the walk in order.
		var events struct{ Items []struct{ Name string } }
		w.Do("GET", "/api/conversations/"+convID+"/events?limit=200", w.key, nil).JSON(t, &events)
		var names []string
		for _, ev := range events.Items {
			names = append(names, ev.Name)
		}
		want := []string{event.TextMessageReceived, event.TextMessageWithUserInfoReceived, event.GenerateAIAgentAnswer, event.AIAgentAnswerGenerated,
			event.SendTextMessage, event.MessageStatusChanged, event.TextMessageReceived, event.OpenTicket, event.TicketOpened, event.AgentAssigned,
			event.GenerateAgentAnswer, event.AgentAnswerGenerated, event.SendTextMessage, event.GenerateAIAgentAnswer}
		if !inOrder(names, want) {
			t.Fatalf("event log %v\ndoes not hold %v in order", names, want)
		}
	})
}

func (w *world) hasEvent(t *testing.T, convID, name string) bool {
	var events struct{ Items []struct{ Name string } }
	w.Do("GET", "/api/conversations/"+convID+"/events?limit=200", w.key, nil).JSON(t, &events)
	for _, ev := range events.Items {
		if ev.Name == name {
			return true
		}
	}
	return false
}

// inOrder reports whether want appears in got as a subsequence.
func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// assignedTicket waits for the tenant's one open ticket to be assigned to
// an agent, and returns its id.
func assignedTicket(t *testing.T, p *apptest.Parley, key string) string {
	t.Helper()
	var tickets struct {
		Items []struct {
			ID      string `json:"id"`
			AgentID string `json:"agent_id"`
		}
	}
	apptest.Eventually(t, "an assigned ticket", func() bool {
		p.Do("GET", "/api/tickets?view=open", key, nil).JSON(t, &tickets)
		return len(tickets.Items) == 1 && tickets.Items[0].AgentID != ""
	})
	return tickets.Items[0].ID
}

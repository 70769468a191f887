package conversation_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/llm/llmtest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// The whole handoff: the AI agent escalates, the ticket is opened and
// assigned, the agent reads the conversation and answers through the API,
// closes the ticket, and the AI agent answers the next message again.
func TestHandoffToAHumanAndBackToTheAI(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := start(t, st, options{responder: func(r llmtest.Request) llmtest.Reply {
			if strings.Contains(r.LastUser(), "manager") {
				return answer("I'm passing you to a colleague who can help.", true, "the customer asks for a person")
			}
			return answer("Glad to help again!", false, "small talk")
		}})
		bea := e.agent("Bea", true)
		ana := e.customer("+5511999990010", "Ana")

		conv := e.receive(ana.Phone, "I want to talk to a manager about my broken blender", ana)
		e.settle()

		mine := e.tickets("?view=mine&agent_id=" + bea.ID)
		if len(mine) != 1 || mine[0].ConversationID != conv.ID || mine[0].Status != parley.TicketOpen || mine[0].Reason != "the customer asks for a person" {
			t.Fatalf("want Bea's open ticket for the conversation, got %+v", mine)
		}
		ticket := mine[0]
		if out := e.outbound(conv.ID); len(out) != 1 || out[0].Content != "I'm passing you to a colleague who can help." {
			t.Fatalf("the customer should read the AI's handoff message once, got %+v", out)
		}
		var filtered struct{ Items []parley.Conversation }
		e.get("/api/conversations?has_open_ticket=true", &filtered)
		if len(filtered.Items) != 1 || filtered.Items[0].ID != conv.ID {
			t.Fatalf("has_open_ticket=true: %+v", filtered.Items)
		}
		e.get("/api/conversations?has_open_ticket=false", &filtered)
		if len(filtered.Items) != 0 {
			t.Fatalf("has_open_ticket=false: %+v", filtered.Items)
		}

		// The customer writes again: the humans get it, the AI stays silent.
		calls := e.llm.Calls()
		e.receive(ana.Phone, "it makes a burning smell", ana)
		e.settle()
		if e.llm.Calls() != calls {
			t.Fatal("the AI agent was asked while the ticket is open")
		}

		var doc struct {
			Ticket       parley.Ticket
			Conversation parley.Conversation
			Customer     *parley.Customer
			Messages     []parley.Message
		}
		e.get("/api/tickets/"+ticket.ID+"/conversation?agent_id="+bea.ID, &doc)
		if doc.Conversation.ID != conv.ID || doc.Customer == nil || doc.Customer.Name != "Ana" || len(doc.Messages) != 3 ||
			doc.Messages[2].Content != "it makes a burning smell" {
			t.Fatalf("conversation document: %+v", doc)
		}

		status, body := e.do(http.MethodPost, "/api/tickets/"+ticket.ID+"/reply", e.key, map[string]any{"text": "  "})
		if status != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"field":"text"`) {
			t.Fatalf("an empty reply: %d %s, want 422 naming text", status, body)
		}
		status, body = e.do(http.MethodPost, "/api/tickets/"+ticket.ID+"/reply", e.key, map[string]any{"text": "Sorry Ana! Please unplug it; a replacement is on its way."})
		if status != http.StatusAccepted {
			t.Fatalf("reply: %d %s", status, body)
		}
		e.settle()
		out := e.outbound(conv.ID)
		if len(out) != 2 || out[1].Role != parley.RoleAgent || out[1].Content != "Sorry Ana! Please unplug it; a replacement is on its way." || out[1].Status != parley.StatusSent {
			t.Fatalf("the agent's reply should be sent, got %+v", out)
		}

		if status, body := e.do(http.MethodPost, "/api/tickets/"+ticket.ID+"/close", e.key, nil); status != http.StatusOK {
			t.Fatalf("close: %d %s", status, body)
		}
		if status, _ := e.do(http.MethodPost, "/api/tickets/"+ticket.ID+"/close", e.key, nil); status != http.StatusConflict {
			t.Errorf("closing twice: %d, want 409", status)
		}
		if status, _ := e.do(http.MethodPost, "/api/tickets/"+ticket.ID+"/reply", e.key, map[string]any{"text": "late"}); status != http.StatusConflict {
			t.Errorf("replying on a closed ticket: %d, want 409", status)
		}

		e.receive(ana.Phone, "thanks, it works now", ana)
		e.settle()
		out = e.outbound(conv.ID)
		if len(out) != 3 || out[2].Role != parley.RoleAI || out[2].Content != "Glad to help again!" {
			t.Fatalf("after the ticket closed the AI agent should answer, got %+v", out)
		}

		evs := e.events(conv.ID)
		wantOrder(t, names(evs),
			event.TextMessageReceived, event.TextMessageWithUserInfoReceived, event.GenerateAIAgentAnswer,
			event.AIAgentAnswerGenerated, event.SendTextMessage, event.OpenTicket, event.TicketOpened, event.AgentAssigned,
			event.TextMessageReceived, event.GenerateAgentAnswer,
			event.GetConversation, event.ConversationDocument,
			event.AgentAnswerGenerated, event.SendTextMessage,
			event.TicketClosed,
			event.TextMessageReceived, event.GenerateAIAgentAnswer, event.AIAgentAnswerGenerated, event.SendTextMessage)
		for _, ev := range evs {
			if ev.Name == event.AgentAssigned && (ev.Payload["agent_id"] != bea.ID || ev.Payload["by"] != "round_robin") {
				t.Errorf("Agent Assigned: %v", ev.Payload)
			}
			if ev.Name == event.AIAgentAnswerGenerated && ev.Payload["open_ticket"] == true && ev.Payload["reason"] != "the customer asks for a person" {
				t.Errorf("AI Agent Answer Generated: %v", ev.Payload)
			}
		}
		checkPayloads(t, evs)
	})
}

// checkPayloads validates every logged payload against the catalog's
// schema for its name, so the catalog cannot drift from what is logged.
func checkPayloads(t *testing.T, evs []parley.Event) {
	t.Helper()
	schemas := map[string]*jsonschema.Resolved{}
	for _, entry := range event.Catalog() {
		s, err := jsonschema.ForType(entry.Payload, nil)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := s.Resolve(nil)
		if err != nil {
			t.Fatal(err)
		}
		schemas[entry.Name] = rs
	}
	for _, ev := range evs {
		rs, ok := schemas[ev.Name]
		if !ok {
			t.Errorf("event %q is not in the catalog", ev.Name)
			continue
		}
		b, _ := json.Marshal(ev.Payload)
		var v any
		_ = json.Unmarshal(b, &v)
		if err := rs.Validate(v); err != nil {
			t.Errorf("event %q payload %s does not match its schema: %v", ev.Name, b, err)
		}
	}
}

func TestTicketsWaitForAnAvailableAgentAndGoRoundRobin(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := start(t, st, options{responder: func(llmtest.Request) llmtest.Reply {
			return answer("", true, "needs a person")
		}})
		away := e.agent("Away", false)
		var convs []parley.Conversation
		for _, phone := range []string{"+5511999990021", "+5511999990022", "+5511999990023"} {
			convs = append(convs, e.receive(phone, "help", nil))
		}
		e.settle()
		open := e.tickets("?view=open")
		if len(open) != 3 {
			t.Fatalf("want 3 open tickets, got %+v", open)
		}
		for _, tk := range open {
			if tk.AgentID != "" {
				t.Fatalf("with no agent available the ticket must wait, got %+v", tk)
			}
		}
		// The holding reply was sent all the same (the model gave no words).
		if out := e.outbound(convs[0].ID); len(out) != 1 || !strings.Contains(out[0].Content, "A member of our team") {
			t.Fatalf("want the holding reply, got %+v", out)
		}

		// Two agents come online: the waiting tickets are shared round robin.
		if status, body := e.do(http.MethodPatch, "/api/agents/"+away.ID, e.key, map[string]any{"available": true}); status != http.StatusOK {
			t.Fatalf("patch agent: %d %s", status, body)
		}
		e.settle()
		cid := e.agent("Cid", true)
		e.settle()
		eventually(t, "every ticket assigned", func() bool {
			for _, tk := range e.tickets("?view=open") {
				if tk.AgentID == "" {
					return false
				}
			}
			return true
		})
		// Away took all three the moment they came online (Cid did not exist);
		// the next ticket goes to Cid, who was never assigned, then Away again.
		if n := len(e.tickets("?view=mine&agent_id=" + away.ID)); n != 3 {
			t.Fatalf("Away should hold the 3 waiting tickets, holds %d", n)
		}
		next := e.receive("+5511999990024", "help", nil)
		e.settle()
		after := e.receive("+5511999990025", "help", nil)
		e.settle()
		owner := func(convID string) string {
			for _, tk := range e.tickets("?view=open") {
				if tk.ConversationID == convID {
					return tk.AgentID
				}
			}
			return ""
		}
		if owner(next.ID) != cid.ID || owner(after.ID) != away.ID {
			t.Fatalf("round robin: want Cid then Away, got %s then %s", owner(next.ID), owner(after.ID))
		}

		// A ticket can also be given by hand.
		tk := e.tickets("?view=mine&agent_id=" + cid.ID)[0]
		status, body := e.do(http.MethodPost, "/api/tickets/"+tk.ID+"/assign", e.key, map[string]any{"agent_id": away.ID})
		if status != http.StatusOK || !strings.Contains(string(body), away.ID) {
			t.Fatalf("assign: %d %s", status, body)
		}
		if status, _ := e.do(http.MethodGet, "/api/tickets?view=mine", e.key, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("mine without agent_id: %d, want 422", status)
		}
	})
}

func TestOfflineModeAnswersFromTheKnowledgeBaseAndEscalatesTheRest(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := start(t, st, options{offline: true})
		e.agent("Bea", true)
		e.document("Opening hours", "We are open Monday to Friday, 9:00 to 18:00.\n\nOn public holidays the shop is closed.")
		e.document("Shipping", "We ship to Portugal and Spain. Shipping is free above 50 euros.")

		known := e.receive("+5511999990031", "Are you open on public holidays?", nil)
		unknown := e.receive("+5511999990032", "Can I pay with bitcoin?", nil)
		e.settle()

		out := e.outbound(known.ID)
		if len(out) != 1 || out[0].Role != parley.RoleAI || out[0].Content != "On public holidays the shop is closed." {
			t.Fatalf("offline mode should answer with the passage, got %+v", out)
		}
		out = e.outbound(unknown.ID)
		if len(out) != 1 || !strings.Contains(out[0].Content, "A member of our team") {
			t.Fatalf("offline mode should send a holding reply, got %+v", out)
		}
		tickets := e.tickets("?view=open")
		if len(tickets) != 1 || tickets[0].ConversationID != unknown.ID {
			t.Fatalf("the unanswerable question should be escalated, got %+v", tickets)
		}
		for _, ev := range e.events(known.ID) {
			if ev.Name == event.AIAgentAnswerGenerated && (ev.Payload["mode"] != "offline" || ev.Payload["open_ticket"] != false) {
				t.Errorf("AI Agent Answer Generated: %v", ev.Payload)
			}
		}
	})
}

func TestConversationsCloseAndReopen(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := start(t, st, options{offline: true})
		conv := e.receive("+5511999990041", "quantum entanglement?", nil) // escalated: no passage
		e.settle()
		if n := len(e.tickets("?view=open")); n != 1 {
			t.Fatalf("want an open ticket, got %d", n)
		}
		status, body := e.do(http.MethodPost, "/api/conversations/"+conv.ID+"/close", e.key, nil)
		if status != http.StatusOK || !strings.Contains(string(body), `"status":"closed"`) {
			t.Fatalf("close: %d %s", status, body)
		}
		if n := len(e.tickets("?view=open")); n != 0 {
			t.Fatal("closing the conversation should close its ticket")
		}
		if status, _ := e.do(http.MethodPost, "/api/conversations/"+conv.ID+"/close", e.key, nil); status != http.StatusConflict {
			t.Errorf("closing twice: %d, want 409", status)
		}
		if status, body := e.do(http.MethodPost, "/api/conversations/"+conv.ID+"/reopen", e.key, nil); status != http.StatusOK {
			t.Fatalf("reopen: %d %s", status, body)
		}
		// Closed again, the contact writes: a new conversation; the old one
		// cannot be reopened beside it.
		e.do(http.MethodPost, "/api/conversations/"+conv.ID+"/close", e.key, nil)
		fresh := e.receive("+5511999990041", "hello again", nil)
		if fresh.ID == conv.ID {
			t.Fatal("a message after closing should open a new conversation")
		}
		status, body = e.do(http.MethodPost, "/api/conversations/"+conv.ID+"/reopen", e.key, nil)
		if status != http.StatusConflict {
			t.Fatalf("reopen beside an open conversation: %d %s", status, body)
		}
		wantOrder(t, names(e.events(conv.ID)), event.TicketOpened, event.TicketClosed, event.ConversationClosed, event.ConversationReopened, event.ConversationClosed)
	})
}

func TestTicketRoutesAreTenantScoped(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := start(t, st, options{offline: true})
		bea := e.agent("Bea", true)
		conv := e.receive("+5511999990051", "quantum entanglement?", nil)
		e.settle()
		tk := e.tickets("?view=open")[0]

		other, otherKey := e.newTenant("Other")
		otherAgent, err := st.CreateAgent(context.Background(), parley.HumanAgent{TenantID: other.ID, Name: "Olga", Available: true})
		if err != nil {
			t.Fatal(err)
		}
		routes := []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/tickets/" + tk.ID, nil},
			{"GET", "/api/tickets/" + tk.ID + "/conversation", nil},
			{"POST", "/api/tickets/" + tk.ID + "/reply", map[string]any{"text": "hi", "agent_id": otherAgent.ID}},
			{"POST", "/api/tickets/" + tk.ID + "/assign", map[string]any{"agent_id": otherAgent.ID}},
			{"POST", "/api/tickets/" + tk.ID + "/close", nil},
			{"POST", "/api/conversations/" + conv.ID + "/close", nil},
			{"POST", "/api/conversations/" + conv.ID + "/reopen", nil},
		}
		for _, r := range routes {
			status, body := e.do(r.method, r.path, otherKey, r.body)
			if status != http.StatusNotFound || !strings.Contains(string(body), `"not_found"`) {
				t.Errorf("%s %s as another tenant: %d %s, want 404 not_found", r.method, r.path, status, body)
			}
		}
		var page struct{ Items []parley.Ticket }
		status, body := e.do("GET", "/api/tickets?view=all", otherKey, nil)
		_ = json.Unmarshal(body, &page)
		if status != http.StatusOK || len(page.Items) != 0 {
			t.Errorf("another tenant lists our tickets: %d %s", status, body)
		}
		// Our ticket with their agent: the agent is not ours.
		status, body = e.do("POST", "/api/tickets/"+tk.ID+"/assign", e.key, map[string]any{"agent_id": otherAgent.ID})
		if status != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"agent_id"`) {
			t.Errorf("assign to another tenant's agent: %d %s", status, body)
		}
		// Nothing changed: still Bea's, still open, no extra messages.
		got := e.tickets("?view=open")
		if len(got) != 1 || got[0].AgentID != bea.ID {
			t.Errorf("the ticket changed: %+v", got)
		}
		if n := len(e.outbound(conv.ID)); n != 1 {
			t.Errorf("messages were sent: %d", n)
		}
		var detail parley.Conversation
		e.get("/api/conversations/"+conv.ID, &detail)
		if detail.Status != parley.ConversationOpen || !reflect.DeepEqual(detail.ID, conv.ID) {
			t.Errorf("the conversation changed: %+v", detail)
		}
	})
}

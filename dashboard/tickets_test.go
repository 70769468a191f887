package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/dashboard"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/store"
)

// userWithAgent makes a user of the tenant who works as the given agent.
func (e *env) userWithAgent(tenantID, email, agentID string) {
	e.t.Helper()
	if _, err := dashboard.CreateUser(context.Background(), e.st, dashboard.NewUser{TenantID: tenantID, Email: email, Name: "Agent user",
		Role: parley.UserAgent, AgentID: agentID, Password: password}); err != nil {
		e.t.Fatal(err)
	}
}

// openTicket opens a ticket on a new conversation of the tenant, given to
// agentID ("" leaves it in the queue). With window, the customer wrote just
// now, so a free-text reply may go.
func (e *env) openTicket(w world, phone, agentID string, window bool) (parley.Conversation, parley.Ticket) {
	e.t.Helper()
	ctx := context.Background()
	conv, err := e.st.CreateConversation(ctx, parley.Conversation{TenantID: w.Channel.TenantID, ContactPhone: phone, ChannelID: w.Channel.ID})
	if err != nil {
		e.t.Fatal(err)
	}
	if window {
		if _, err := e.st.InsertMessage(ctx, parley.Message{TenantID: conv.TenantID, ConversationID: conv.ID, ChannelID: w.Channel.ID, Role: parley.RoleCustomer,
			Content: "I want to talk to a person", Status: parley.StatusReceived}); err != nil {
			e.t.Fatal(err)
		}
		if conv, err = e.st.TouchInbound(ctx, conv.TenantID, conv.ID, w.Channel.ID, e.clk.Now()); err != nil {
			e.t.Fatal(err)
		}
	}
	t, err := e.st.CreateTicket(ctx, parley.Ticket{TenantID: conv.TenantID, ConversationID: conv.ID, Reason: "asked for a person"})
	if err != nil {
		e.t.Fatal(err)
	}
	if agentID != "" {
		if t, err = e.st.AssignTicket(ctx, conv.TenantID, t.ID, agentID, false); err != nil {
			e.t.Fatal(err)
		}
	}
	return conv, t
}

func rowsOf(p page) int { return strings.Count(p.Body, "<tr data-id=") }

func eventNames(t *testing.T, st *store.Store, tenantID, convID string) []string {
	t.Helper()
	events, _, err := st.ListEvents(context.Background(), tenantID, convID, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ev := range events {
		names = append(names, ev.Name)
	}
	return names
}

func TestTicketViewsAndBadges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, withServices(t))
	tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	w := seed(t, e.st, tn.ID, "Alice", "01")
	e.userWithAgent(tn.ID, "alex@acme.test", w.Agent.ID)
	waiting, tWaiting := e.openTicket(w, "+5511999990001", "", true)
	mine, tMine := e.openTicket(w, "+5511999990002", w.Agent.ID, true)

	ana := e.browser()
	ana.mustSignIn("ana@acme.test")
	queue := ana.get("/tickets")
	if queue.Status != http.StatusOK || rowsOf(queue) != 1 || !strings.Contains(queue.Body, `data-id="`+tWaiting.ID+`"`) {
		t.Fatalf("the queue shows %d tickets, want only the waiting one\n%s", rowsOf(queue), queue.Body)
	}
	if all := ana.get("/tickets?view=all"); rowsOf(all) != 2 || !strings.Contains(all.Body, ">Alex<") {
		t.Fatalf("all shows %d tickets (want 2) or not the agent's name", rowsOf(all))
	}
	// Ana's user works as no agent: nothing is hers.
	if p := ana.get("/tickets?view=mine"); !strings.Contains(p.Body, `id="no-agent"`) || rowsOf(p) != 0 {
		t.Fatalf("mine for a user without an agent:\n%s", p.Body)
	}
	alex := e.browser()
	alex.mustSignIn("alex@acme.test")
	if p := alex.get("/tickets?view=mine"); rowsOf(p) != 1 || !strings.Contains(p.Body, `data-id="`+tMine.ID+`"`) {
		t.Fatalf("mine shows %d tickets, want the one assigned to Alex", rowsOf(p))
	}

	// The inbox marks conversations humans hold, and filters by it.
	inbox := ana.get("/")
	for _, tk := range []parley.Ticket{tWaiting, tMine} {
		if !strings.Contains(inbox.Body, `<a class="badge ticket" href="/tickets/`+tk.ID+`"`) {
			t.Errorf("the inbox has no open-ticket badge for ticket %s", tk.ID)
		}
	}
	if strings.Count(inbox.Body, `class="badge ticket"`) != 2 {
		t.Errorf("%d open-ticket badges, want 2 (the seeded conversation has no ticket)", strings.Count(inbox.Body, `class="badge ticket"`))
	}
	humans := ana.get("/?held=humans")
	if rowsOf(humans) != 2 || strings.Contains(humans.Body, w.Conv.ID) {
		t.Errorf("held by humans: %d rows, want the 2 with tickets", rowsOf(humans))
	}
	if ai := ana.get("/?held=ai"); rowsOf(ai) != 1 || !strings.Contains(ai.Body, w.Conv.ID) || strings.Contains(ai.Body, waiting.ID) || strings.Contains(ai.Body, mine.ID) {
		t.Errorf("answered by the AI: %d rows, want only the seeded conversation", rowsOf(ai))
	}
	if p := ana.get("/conversations/" + mine.ID); !strings.Contains(p.Body, `href="/tickets/`+tMine.ID+`">Open ticket`) {
		t.Error("the conversation page does not link its open ticket")
	}
}

func TestTicketReplyAssignClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.SQLite, withServices(t))
	tn := e.tenantWithUser("Acme", "ana@acme.test", parley.UserAdmin)
	w := seed(t, e.st, tn.ID, "Alice", "01")
	bea, err := e.st.CreateAgent(context.Background(), parley.HumanAgent{TenantID: tn.ID, Name: "Bea", Available: true})
	if err != nil {
		t.Fatal(err)
	}
	conv, tk := e.openTicket(w, "+5511999990001", "", true)
	_, late := e.openTicket(w, "+5511999990002", w.Agent.ID, false) // the customer never wrote: the window is closed
	b := e.browser()
	token := b.mustSignIn("ana@acme.test")
	ctx := context.Background()
	path := "/tickets/" + tk.ID

	page := b.get(path)
	for _, want := range []string{"I want to talk to a person", `id="reply-form"`, `id="assign-form"`, `id="close-form"`, "Waiting in the queue"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the ticket page lacks %s", want)
		}
	}

	// Errors stay beside their fields, and nothing is sent.
	errs := []struct {
		path   string
		form   url.Values
		field  string
		errMsg string
	}{
		{path + "/reply", url.Values{"text": {""}, "agent_id": {w.Agent.ID}}, `name="text"`, "Required."},
		{path + "/reply", url.Values{"text": {"Hello"}, "agent_id": {""}}, `name="agent_id"`, "The ticket has no agent yet: say who answers."},
		{path + "/reply", url.Values{"text": {"Hello"}, "agent_id": {"no-such-agent"}}, `name="agent_id"`, "No such agent."},
		{"/tickets/" + late.ID + "/reply", url.Values{"text": {"Hello"}}, `name="text"`, "Outside the 24-hour service window"},
		{path + "/assign", url.Values{"agent_id": {""}}, `id="assign-agent"`, "Choose an agent."},
	}
	for _, tc := range errs {
		tc.form.Set("csrf_token", token)
		p := b.post(tc.path, tc.form)
		if p.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s %v: %d, want 422", tc.path, tc.form, p.Status)
			continue
		}
		at := strings.Index(p.Body, tc.field)
		errAt := strings.Index(p.Body[max(at, 0):], `<p class="field-error" role="alert">`)
		if at < 0 || errAt < 0 || !strings.HasPrefix(p.Body[at+errAt+len(`<p class="field-error" role="alert">`):], tc.errMsg) {
			t.Errorf("%s: the error %q does not follow %s", tc.path, tc.errMsg, tc.field)
		}
	}
	if msgs, _ := e.st.RecentMessages(ctx, tn.ID, conv.ID, 10); len(msgs) != 1 {
		t.Fatalf("%d messages after refused replies, want the customer's only", len(msgs))
	}

	// A reply goes out through the flow, as Bea, who now holds the ticket.
	p := b.post(path+"/reply", url.Values{"csrf_token": {token}, "text": {"Hi, this is Bea. <b>How can I help?</b>"}, "agent_id": {bea.ID}})
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != path+"?sent=1" {
		t.Fatalf("reply: %d %s\n%s", p.Status, p.Header.Get("Location"), p.Body)
	}
	msgs, _ := e.st.RecentMessages(ctx, tn.ID, conv.ID, 10)
	if last := msgs[len(msgs)-1]; len(msgs) != 2 || last.Role != parley.RoleAgent || last.Status != parley.StatusQueued || last.Content != "Hi, this is Bea. <b>How can I help?</b>" {
		t.Fatalf("messages after the reply = %+v", msgs)
	}
	if got, _ := e.st.GetTicket(ctx, tn.ID, tk.ID); got.AgentID != bea.ID {
		t.Errorf("the ticket's agent is %q, want Bea who answered", got.AgentID)
	}
	names := strings.Join(eventNames(t, e.st, tn.ID, conv.ID), ",")
	if !strings.Contains(names, event.AgentAssigned) || !strings.Contains(names, event.AgentAnswerGenerated) || !strings.Contains(names, event.SendTextMessage) {
		t.Errorf("events after the reply: %s", names)
	}
	sent := b.get(path + "?sent=1")
	if !strings.Contains(sent.Body, `id="reply-sent"`) || !strings.Contains(sent.Body, "&lt;b&gt;How can I help?&lt;/b&gt;") {
		t.Error("the ticket page does not show the reply (escaped) and its notice")
	}

	// Assign to Alex, then close: the AI answers again.
	if p := b.post(path+"/assign", url.Values{"csrf_token": {token}, "agent_id": {w.Agent.ID}}); p.Status != http.StatusSeeOther {
		t.Fatalf("assign: %d", p.Status)
	}
	if got, _ := e.st.GetTicket(ctx, tn.ID, tk.ID); got.AgentID != w.Agent.ID {
		t.Errorf("assigned to %q, want Alex", got.AgentID)
	}
	if p := b.post(path+"/close", url.Values{"csrf_token": {token}}); p.Status != http.StatusSeeOther {
		t.Fatalf("close: %d", p.Status)
	}
	if got, _ := e.st.GetTicket(ctx, tn.ID, tk.ID); got.Status != parley.TicketClosed {
		t.Errorf("ticket status %q after close", got.Status)
	}
	closed := b.get(path)
	if !strings.Contains(closed.Body, `id="ticket-closed"`) || strings.Contains(closed.Body, `id="reply-form"`) {
		t.Error("a closed ticket still offers a reply box")
	}
	if p := b.post(path+"/reply", url.Values{"csrf_token": {token}, "text": {"late"}, "agent_id": {w.Agent.ID}}); p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "The ticket is closed.") {
		t.Errorf("a reply to a closed ticket: %d", p.Status)
	}
}

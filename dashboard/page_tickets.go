package dashboard

import (
	"context"
	"net/http"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/conversation"
	"github.com/parleyhq/parley/store"
)

// Tickets: the human side of the flow. The queue (open tickets no agent
// has), the signed-in user's own (through the agent their user is linked
// to), every open one and all; a ticket's page with the latest messages, a
// reply box, assignment and closing. Every change goes through the
// conversation service, as the API's ticket routes do.

func (d *Dashboard) ticketsPage() Page {
	p := Page{Name: "Tickets", Path: "/tickets"}
	if d.conversations == nil {
		return p
	}
	p.Routes = func(rt Routes) {
		rt.Get("/tickets", d.tickets)
		rt.Get("/tickets/{id}", d.ticket)
		rt.Post("/tickets/{id}/reply", d.replyTicket)
		rt.Post("/tickets/{id}/assign", d.assignTicket)
		rt.Post("/tickets/{id}/close", d.closeTicket)
	}
	return p
}

// ticketViews are the list's tabs: the query value and the service's view.
var ticketViews = []struct{ Key, Label, View string }{
	{"queue", "Queue", conversation.ViewWaiting},
	{"mine", "Assigned to me", conversation.ViewMine},
	{"open", "Open", conversation.ViewOpen},
	{"all", "All", conversation.ViewAll},
}

type ticketRow struct {
	Ticket   parley.Ticket
	Conv     parley.Conversation
	Customer string
	Agent    string
	Last     *parley.Message
}

type ticketsData struct {
	Views   []struct{ Key, Label, View string }
	View    string
	NoAgent bool // "mine" for a user linked to no agent
	Rows    []ticketRow
	Pager   Pager
}

func (d *Dashboard) tickets(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	data := ticketsData{Views: ticketViews, View: "queue"}
	view := conversation.ViewWaiting
	for _, v := range ticketViews {
		if v.Key == r.URL.Query().Get("view") {
			data.View, view = v.Key, v.View
		}
	}
	if view == conversation.ViewMine && s.User.AgentID == "" {
		data.NoAgent = true
		return d.render(w, r, s, http.StatusOK, "tickets", data)
	}
	items, next, err := d.conversations.ListTickets(ctx, s.TenantID, view, s.User.AgentID, store.Page{Limit: listSize, Cursor: r.URL.Query().Get("cursor")})
	if parley.ErrorCode(err) == parley.CodeValidation {
		// The user's agent was deleted: they have no tickets of their own.
		data.NoAgent = true
		return d.render(w, r, s, http.StatusOK, "tickets", data)
	}
	if err != nil {
		return err
	}
	if data.Rows, err = d.ticketRows(ctx, s.TenantID, items); err != nil {
		return err
	}
	data.Pager = pager(r, "cursor", next)
	return d.render(w, r, s, http.StatusOK, "tickets", data)
}

// ticketRows adds each ticket's conversation, contact, agent and last message.
func (d *Dashboard) ticketRows(ctx context.Context, tenantID string, items []parley.Ticket) ([]ticketRow, error) {
	convIDs := make([]string, 0, len(items))
	for _, t := range items {
		convIDs = append(convIDs, t.ConversationID)
	}
	convs, err := d.store.ConversationsByIDs(ctx, tenantID, convIDs)
	if err != nil {
		return nil, err
	}
	custIDs := []string{}
	for _, c := range convs {
		if c.CustomerID != "" {
			custIDs = append(custIDs, c.CustomerID)
		}
	}
	customers, err := d.store.CustomersByIDs(ctx, tenantID, custIDs)
	if err != nil {
		return nil, err
	}
	last, err := d.store.LastMessages(ctx, tenantID, convIDs)
	if err != nil {
		return nil, err
	}
	agents, err := d.agentNames(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	rows := make([]ticketRow, 0, len(items))
	for _, t := range items {
		c := convs[t.ConversationID]
		row := ticketRow{Ticket: t, Conv: c, Customer: customers[c.CustomerID].Name, Agent: agents[t.AgentID]}
		if m, ok := last[t.ConversationID]; ok {
			row.Last = &m
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// maxAgents bounds the agents offered in a select; a business with more
// human agents than this assigns the rest through the API.
const maxAgents = 200

func (d *Dashboard) listAgents(ctx context.Context, tenantID string) ([]parley.HumanAgent, error) {
	agents, _, err := d.store.ListAgents(ctx, tenantID, store.Page{Limit: maxAgents})
	return agents, err
}

func (d *Dashboard) agentNames(ctx context.Context, tenantID string) (map[string]string, error) {
	agents, err := d.listAgents(ctx, tenantID)
	names := map[string]string{}
	for _, a := range agents {
		names[a.ID] = a.Name
	}
	return names, err
}

// threadSize is how many of the latest messages a ticket's page shows; the
// whole history is on the conversation's page.
const threadSize = 50

type ticketData struct {
	Ticket     parley.Ticket
	Conv       parley.Conversation
	Customer   *parley.Customer
	AgentName  string
	Agents     []parley.HumanAgent
	Messages   []parley.Message
	More       bool // older messages are on the conversation page
	WindowOpen bool
	Instagram  bool // the conversation is on Instagram: 7 days for a person's reply
	HumanTag   bool // a reply now goes with Instagram's human-agent tag
	Sent       bool
	Reply      *Form
	Assign     *Form
}

func (d *Dashboard) ticket(w http.ResponseWriter, r *http.Request, s *Session) error {
	reply, assign := newForm(), newForm()
	return d.showTicket(w, r, s, http.StatusOK, reply, assign)
}

// showTicket renders a ticket's page with the given forms (fresh, or as
// sent with their errors).
func (d *Dashboard) showTicket(w http.ResponseWriter, r *http.Request, s *Session, status int, reply, assign *Form) error {
	ctx := r.Context()
	t, err := d.store.GetTicket(ctx, s.TenantID, r.PathValue("id"))
	if err != nil {
		return err
	}
	data := ticketData{Ticket: t, Reply: reply, Assign: assign, Sent: r.URL.Query().Get("sent") == "1"}
	if data.Conv, err = d.store.GetConversation(ctx, s.TenantID, t.ConversationID); err != nil {
		return err
	}
	if data.Conv.CustomerID != "" {
		if c, err := d.store.GetCustomer(ctx, s.TenantID, data.Conv.CustomerID); err == nil {
			data.Customer = &c
		}
	}
	if data.Agents, err = d.listAgents(ctx, s.TenantID); err != nil {
		return err
	}
	for _, a := range data.Agents {
		if a.ID == t.AgentID {
			data.AgentName = a.Name
		}
	}
	if data.Messages, err = d.store.RecentMessages(ctx, s.TenantID, data.Conv.ID, threadSize); err != nil {
		return err
	}
	data.More = len(data.Messages) == threadSize
	chType := parley.ChannelWhatsApp
	if data.Conv.ChannelID != "" {
		if ch, err := d.store.GetChannel(ctx, s.TenantID, data.Conv.ChannelID); err == nil {
			chType = ch.Type
		}
	}
	data.Instagram = chType == parley.ChannelInstagram
	data.WindowOpen = chType.Window().Allows(data.Conv.LastCustomerMessageAt, parley.RoleAgent, false, d.clock.Now())
	data.HumanTag = chType.Window().NeedsTag(data.Conv.LastCustomerMessageAt, parley.RoleAgent, d.clock.Now())
	// Answer as the user's own agent, else as the assigned one.
	if reply.Get("agent_id") == "" {
		reply.Values["agent_id"] = s.User.AgentID
		if reply.Values["agent_id"] == "" {
			reply.Values["agent_id"] = t.AgentID
		}
	}
	if assign.Get("agent_id") == "" {
		assign.Values["agent_id"] = t.AgentID
	}
	return d.render(w, r, s, status, "ticket", data)
}

func (d *Dashboard) replyTicket(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	// Look the ticket up first: another tenant's id is a 404 whatever the form says.
	if _, err := d.store.GetTicket(ctx, s.TenantID, r.PathValue("id")); err != nil {
		return err
	}
	f := readForm(r, "text", "agent_id")
	f.Require(4096, "text")
	if f.OK() {
		m, err := d.conversations.Reply(ctx, s.TenantID, r.PathValue("id"), f.Get("agent_id"), f.Get("text"))
		if err == nil {
			d.log.InfoContext(ctx, "ticket answered from the dashboard", "tenant_id", s.TenantID, "ticket_id", r.PathValue("id"),
				"conversation_id", m.ConversationID, "message_id", m.ID, "user_id", s.UserID)
			return redirect(w, r, "/tickets/"+r.PathValue("id")+"?sent=1")
		}
		if !f.Absorb(err, "text") {
			return err
		}
	}
	return d.showTicket(w, r, s, http.StatusUnprocessableEntity, f, newForm())
}

func (d *Dashboard) assignTicket(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	if _, err := d.store.GetTicket(ctx, s.TenantID, r.PathValue("id")); err != nil {
		return err
	}
	f := readForm(r, "agent_id")
	if f.Get("agent_id") == "" {
		f.Fail("agent_id", "Choose an agent.")
	} else {
		_, err := d.conversations.Assign(ctx, s.TenantID, r.PathValue("id"), f.Get("agent_id"))
		if err == nil {
			return redirect(w, r, "/tickets/"+r.PathValue("id"))
		}
		if !f.Absorb(err, "agent_id") {
			return err
		}
	}
	return d.showTicket(w, r, s, http.StatusUnprocessableEntity, newForm(), f)
}

func (d *Dashboard) closeTicket(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	if _, err := d.store.GetTicket(ctx, s.TenantID, r.PathValue("id")); err != nil {
		return err
	}
	_, err := d.conversations.CloseTicket(ctx, s.TenantID, r.PathValue("id"))
	if parley.ErrorCode(err) == parley.CodeConflict {
		// Closed meanwhile (by someone else): the page shows it closed.
		err = nil
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/tickets/"+r.PathValue("id"))
}

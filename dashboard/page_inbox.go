package dashboard

import (
	"net/http"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// The inbox: the tenant's conversations, newest first, and one
// conversation's thread with its event log.

const listSize = 25

func (d *Dashboard) inboxPage() Page {
	return Page{Name: "Inbox", Path: "/", Routes: func(rt Routes) {
		rt.Get("/{$}", d.inbox)
		rt.Get("/conversations/{id}", d.conversation)
	}}
}

type inboxRow struct {
	Conv     parley.Conversation
	Customer string // name, or "" for an unidentified contact
	Channel  string
	Last     *parley.Message
	Ticket   *parley.Ticket // the open ticket: humans hold the conversation
}

type inboxData struct {
	Rows     []inboxRow
	Channels []parley.Channel
	Status   string
	Channel  string
	Kind     string
	Held     string // "humans" (an open ticket), "ai" (none) or "" for both
	Pager    Pager
}

func (d *Dashboard) inbox(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	q := r.URL.Query()
	data := inboxData{Status: q.Get("status"), Channel: q.Get("channel"), Kind: q.Get("kind"), Held: q.Get("held")}
	f := store.ConversationFilter{ChannelID: data.Channel}
	switch parley.ConversationStatus(data.Status) {
	case parley.ConversationOpen, parley.ConversationClosed:
		f.Status = parley.ConversationStatus(data.Status)
	default:
		data.Status = ""
	}
	switch parley.ConversationKind(data.Kind) {
	case parley.KindCustomer, parley.KindStaff:
		f.Kind = parley.ConversationKind(data.Kind)
	default:
		data.Kind = ""
	}
	switch data.Held {
	case "humans", "ai":
		f.Where = append(f.Where, store.HasOpenTicket(data.Held == "humans"))
	default:
		data.Held = ""
	}
	channels, _, err := d.store.ListChannels(ctx, s.TenantID, store.Page{Limit: 200})
	if err != nil {
		return err
	}
	data.Channels = channels
	convs, next, err := d.store.ListConversations(ctx, s.TenantID, f, store.Page{Limit: listSize, Cursor: q.Get("cursor")})
	if err != nil {
		return err
	}
	ids, custIDs := make([]string, 0, len(convs)), []string{}
	for _, c := range convs {
		ids = append(ids, c.ID)
		if c.CustomerID != "" {
			custIDs = append(custIDs, c.CustomerID)
		}
	}
	last, err := d.store.LastMessages(ctx, s.TenantID, ids)
	if err != nil {
		return err
	}
	customers, err := d.store.CustomersByIDs(ctx, s.TenantID, custIDs)
	if err != nil {
		return err
	}
	tickets, err := d.store.OpenTicketsFor(ctx, s.TenantID, ids)
	if err != nil {
		return err
	}
	channelName := map[string]string{}
	for _, c := range channels {
		// The type tells an Instagram conversation from a WhatsApp one.
		channelName[c.ID] = c.Name + " (" + string(c.Type) + ")"
	}
	for _, c := range convs {
		row := inboxRow{Conv: c, Customer: customers[c.CustomerID].Name, Channel: channelName[c.ChannelID]}
		if m, ok := last[c.ID]; ok {
			row.Last = &m
		}
		if t, ok := tickets[c.ID]; ok {
			row.Ticket = &t
		}
		data.Rows = append(data.Rows, row)
	}
	data.Pager = pager(r, "cursor", next)
	return d.render(w, r, s, http.StatusOK, "inbox", data)
}

type conversationData struct {
	Conv     parley.Conversation
	Customer *parley.Customer
	Channel  *parley.Channel
	Ticket   *parley.Ticket // the open ticket, if humans hold the conversation
	Messages []parley.Message
	Events   []parley.Event
	MsgPager Pager
	EvPager  Pager
}

func (d *Dashboard) conversation(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	conv, err := d.store.GetConversation(ctx, s.TenantID, r.PathValue("id"))
	if err != nil {
		return err
	}
	data := conversationData{Conv: conv}
	if conv.CustomerID != "" {
		if c, err := d.store.GetCustomer(ctx, s.TenantID, conv.CustomerID); err == nil {
			data.Customer = &c
		}
	}
	if conv.ChannelID != "" {
		if c, err := d.store.GetChannel(ctx, s.TenantID, conv.ChannelID); err == nil {
			data.Channel = &c
		}
	}
	if t, err := d.store.OpenTicketFor(ctx, s.TenantID, conv.ID); err == nil {
		data.Ticket = &t
	} else if parley.ErrorCode(err) != parley.CodeNotFound {
		return err
	}
	q := r.URL.Query()
	msgs, nextMsg, err := d.store.ListMessages(ctx, s.TenantID, conv.ID, store.Page{Limit: 50, Cursor: q.Get("messages")})
	if err != nil {
		return err
	}
	events, nextEv, err := d.store.ListEvents(ctx, s.TenantID, conv.ID, store.Page{Limit: 50, Cursor: q.Get("events")})
	if err != nil {
		return err
	}
	data.Messages, data.Events = msgs, events
	data.MsgPager, data.EvPager = pager(r, "messages", nextMsg), pager(r, "events", nextEv)
	return d.render(w, r, s, http.StatusOK, "conversation", data)
}

package conversation

import (
	"context"
	"strings"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/store"
)

// openTicket runs Open Ticket in the caller's transaction: it logs the
// command, opens the ticket (Ticket Opened) and gives it to the next
// available agent (Agent Assigned). With no agent available the ticket
// waits in the queue; AssignWaiting picks it up later. A conversation that
// already has an open ticket keeps it.
func (s *Service) openTicket(ctx context.Context, q *store.Queries, conv parley.Conversation, reason, messageID string) (parley.Ticket, error) {
	if err := q.AppendEvent(ctx, conv.TenantID, conv.ID, event.OpenTicket, event.OpenTicketPayload{MessageID: messageID, Reason: reason}); err != nil {
		return parley.Ticket{}, err
	}
	// Look first: on PostgreSQL a unique violation would abort the whole
	// transaction. Two openers at once still meet the unique index, and the
	// loser's transaction (a job) rolls back and retries.
	if t, err := q.OpenTicketFor(ctx, conv.TenantID, conv.ID); err == nil {
		return t, nil
	} else if parley.ErrorCode(err) != parley.CodeNotFound {
		return t, err
	}
	t, err := q.CreateTicket(ctx, parley.Ticket{TenantID: conv.TenantID, ConversationID: conv.ID, Reason: reason})
	if err != nil {
		return t, err
	}
	if err := q.AppendEvent(ctx, conv.TenantID, conv.ID, event.TicketOpened, event.TicketPayload{TicketID: t.ID, Reason: reason}); err != nil {
		return t, err
	}
	assigned, ok, err := s.assignNext(ctx, q, t)
	if err != nil {
		return t, err
	}
	if !ok {
		s.log().InfoContext(ctx, "ticket waits: no agent available", "tenant_id", t.TenantID, "conversation_id", conv.ID, "ticket_id", t.ID)
		return t, nil
	}
	return assigned, nil
}

// assignNext gives a waiting ticket to the tenant's next available agent,
// round robin. ok is false when no agent is available.
func (s *Service) assignNext(ctx context.Context, q *store.Queries, t parley.Ticket) (parley.Ticket, bool, error) {
	agent, err := q.NextAgent(ctx, t.TenantID)
	if parley.ErrorCode(err) == parley.CodeNotFound {
		return t, false, nil
	}
	if err != nil {
		return t, false, err
	}
	t, err = q.AssignTicket(ctx, t.TenantID, t.ID, agent.ID, true)
	if err != nil {
		return t, false, err
	}
	err = q.AppendEvent(ctx, t.TenantID, t.ConversationID, event.AgentAssigned, event.AgentAssignedPayload{
		TicketID: t.ID, AgentID: agent.ID, AgentName: agent.Name, By: "round_robin"})
	return t, err == nil, err
}

// AssignWaiting gives the tenant's waiting tickets, oldest first, to
// available agents until one side runs out. It returns how many it assigned.
func (s *Service) AssignWaiting(ctx context.Context, q *store.Queries, tenantID string) (int, error) {
	waiting, err := q.WaitingTickets(ctx, tenantID, 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range waiting {
		_, ok, err := s.assignNext(ctx, q, t)
		if parley.ErrorCode(err) == parley.CodeConflict {
			continue // another process assigned it meanwhile
		}
		if err != nil {
			return n, err
		}
		if !ok {
			break
		}
		n++
	}
	return n, nil
}

// AgentSaved runs in the transaction that creates or changes an agent: an
// agent who is available may take waiting tickets, so a scan is queued.
func (s *Service) AgentSaved(ctx context.Context, q *store.Queries, a parley.HumanAgent) error {
	if !a.Available {
		return nil
	}
	return s.Jobs.InsertTx(ctx, q.Tx(), event.AssignWaitingTicketsArgs{TenantID: a.TenantID}, nil)
}

// Ticket views of the human side's list.
const (
	ViewOpen    = "open"    // open tickets, waiting or assigned
	ViewWaiting = "waiting" // open tickets no agent has: the queue
	ViewMine    = "mine"    // open tickets assigned to one agent
	ViewAll     = "all"
)

// ListTickets pages through a view of the tenant's tickets. ViewMine needs
// the agent's id.
func (s *Service) ListTickets(ctx context.Context, tenantID, view, agentID string, p store.Page) ([]parley.Ticket, string, error) {
	var f store.TicketFilter
	switch view {
	case ViewOpen, "":
		f.Status = parley.TicketOpen
	case ViewWaiting:
		f.Status, f.Unassigned = parley.TicketOpen, true
	case ViewMine:
		if agentID == "" {
			return nil, "", parley.FieldError("agent_id", "the mine view needs agent_id")
		}
		if _, err := s.Store.GetAgent(ctx, tenantID, agentID); err != nil {
			return nil, "", agentFieldError(err)
		}
		f.Status, f.AgentID = parley.TicketOpen, agentID
	case ViewAll:
	default:
		return nil, "", parley.FieldError("view", "want open, waiting, mine or all")
	}
	return s.Store.ListTickets(ctx, tenantID, f, p)
}

func agentFieldError(err error) error {
	if parley.ErrorCode(err) == parley.CodeNotFound {
		return parley.FieldError("agent_id", "no such agent")
	}
	return err
}

// Assign gives a ticket to an agent by hand (Agent Assigned, by api).
func (s *Service) Assign(ctx context.Context, tenantID, ticketID, agentID string) (parley.Ticket, error) {
	var t parley.Ticket
	err := s.Store.InTx(ctx, func(q *store.Queries) error {
		var err error
		if t, err = s.openTicketByID(ctx, q, tenantID, ticketID); err != nil {
			return err
		}
		if agentID == "" {
			return parley.FieldError("agent_id", "must not be empty")
		}
		agent, err := q.GetAgent(ctx, tenantID, agentID)
		if err != nil {
			return agentFieldError(err)
		}
		if t, err = q.AssignTicket(ctx, tenantID, ticketID, agent.ID, false); err != nil {
			return err
		}
		err = q.AppendEvent(ctx, tenantID, t.ConversationID, event.AgentAssigned, event.AgentAssignedPayload{
			TicketID: t.ID, AgentID: agent.ID, AgentName: agent.Name, By: "api"})
		return err
	})
	return t, err
}

// openTicketByID returns the tenant's ticket if it is open: a closed one is
// a conflict, another tenant's is not found.
func (s *Service) openTicketByID(ctx context.Context, q *store.Queries, tenantID, id string) (parley.Ticket, error) {
	t, err := q.GetTicket(ctx, tenantID, id)
	if err != nil {
		return t, err
	}
	if t.Status != parley.TicketOpen {
		return t, &parley.Error{Code: parley.CodeConflict, Message: "the ticket is closed"}
	}
	return t, nil
}

// Reply sends a human agent's answer on a ticket: Agent Answer Generated,
// then out through the Outbox like an AI answer (role agent). agentID may
// be empty to answer as the assigned agent; an unassigned ticket is
// assigned to whoever answers it.
func (s *Service) Reply(ctx context.Context, tenantID, ticketID, agentID, text string) (parley.Message, error) {
	text = strings.TrimSpace(text)
	var sent parley.Message
	var refused *refusal
	err := s.Store.InTx(ctx, func(q *store.Queries) error {
		t, err := s.openTicketByID(ctx, q, tenantID, ticketID)
		if err != nil {
			return err
		}
		if text == "" {
			return parley.FieldError("text", "must not be empty")
		}
		if agentID == "" {
			agentID = t.AgentID
		}
		if agentID == "" {
			return parley.FieldError("agent_id", "the ticket has no agent yet: say who answers")
		}
		agent, err := q.GetAgent(ctx, tenantID, agentID)
		if err != nil {
			return agentFieldError(err)
		}
		if t.AgentID == "" {
			if t, err = q.AssignTicket(ctx, tenantID, t.ID, agent.ID, false); err != nil {
				return err
			}
			if err := q.AppendEvent(ctx, tenantID, t.ConversationID, event.AgentAssigned, event.AgentAssignedPayload{
				TicketID: t.ID, AgentID: agent.ID, AgentName: agent.Name, By: "api"}); err != nil {
				return err
			}
		}
		conv, err := q.GetConversation(ctx, tenantID, t.ConversationID)
		if err != nil {
			return err
		}
		// The channel type's window (a person's reply may go for 7 days
		// on Instagram); a refusal is recorded below, never silent.
		chType := parley.ChannelWhatsApp
		if conv.ChannelID != "" {
			ch, err := q.GetChannel(ctx, tenantID, conv.ChannelID)
			if err != nil && parley.ErrorCode(err) != parley.CodeNotFound {
				return err
			}
			if err == nil {
				chType = ch.Type
			}
		}
		now := s.Store.Clock().Now()
		if w := chType.Window(); !w.Allows(conv.LastCustomerMessageAt, parley.RoleAgent, false, now) {
			refused = &refusal{conv: conv, agent: agent.ID, ticket: t.ID, err: w.Refusal(), reason: windowReason(w, conv, now)}
			return refused.err
		}
		if err := q.AppendEvent(ctx, tenantID, conv.ID, event.AgentAnswerGenerated, event.AgentAnswerGeneratedPayload{
			TicketID: t.ID, AgentID: agent.ID, Text: text}); err != nil {
			return err
		}
		sent, err = s.Outbox.Queue(ctx, q, conv, parley.Message{Role: parley.RoleAgent, Content: text,
			Extra: map[string]any{"ticket_id": t.ID, "agent_id": agent.ID}})
		return err
	})
	if refused != nil {
		return s.recordRefusal(ctx, *refused, text)
	}
	return sent, err
}

// refusal is a person's reply the window did not let go.
type refusal struct {
	conv          parley.Conversation
	agent, ticket string
	err           *parley.Error
	reason        string
}

// windowReason says why the window is closed, for the message and the log.
func windowReason(w parley.Window, conv parley.Conversation, now time.Time) string {
	last := "the contact never wrote"
	if conv.LastCustomerMessageAt != nil {
		last = "the contact last wrote " + now.Sub(*conv.LastCustomerMessageAt).Truncate(time.Minute).String() + " ago"
	}
	return w.Refusal().Message + " (" + last + ")"
}

// recordRefusal keeps a refused reply: the message, failed with
// outside_window and the reason, and Message Send Failed in the
// conversation's log. The caller gets the refusal (409) with the reason.
func (s *Service) recordRefusal(ctx context.Context, r refusal, text string) (parley.Message, error) {
	m := parley.Message{TenantID: r.conv.TenantID, ConversationID: r.conv.ID, Role: parley.RoleAgent, Type: parley.MessageText,
		Content: text, ChannelID: r.conv.ChannelID, Status: parley.StatusFailed, ErrorCode: channel.CodeOutsideWindow, ErrorReason: r.reason,
		Extra: map[string]any{"ticket_id": r.ticket, "agent_id": r.agent}}
	err := s.Store.InTx(ctx, func(q *store.Queries) error {
		var err error
		if m, err = q.InsertMessage(ctx, m); err != nil {
			return err
		}
		return q.AppendEvent(ctx, m.TenantID, m.ConversationID, event.MessageSendFailed, event.MessageStatusPayload{
			MessageID: m.ID, ChannelID: m.ChannelID, Status: parley.StatusFailed, ErrorCode: channel.CodeOutsideWindow, ErrorReason: r.reason, Source: "send"})
	})
	if err != nil {
		return m, err
	}
	return m, &parley.Error{Code: r.err.Code, Message: r.reason}
}

// CloseTicket closes a ticket; the conversation goes back to the AI agent.
func (s *Service) CloseTicket(ctx context.Context, tenantID, ticketID string) (parley.Ticket, error) {
	var t parley.Ticket
	err := s.Store.InTx(ctx, func(q *store.Queries) error {
		var err error
		if t, err = s.openTicketByID(ctx, q, tenantID, ticketID); err != nil {
			return err
		}
		return s.closeTicket(ctx, q, &t)
	})
	return t, err
}

func (s *Service) closeTicket(ctx context.Context, q *store.Queries, t *parley.Ticket) error {
	closed, err := q.CloseTicket(ctx, t.TenantID, t.ID)
	if err != nil {
		return err
	}
	*t = closed
	err = q.AppendEvent(ctx, t.TenantID, t.ConversationID, event.TicketClosed, event.TicketPayload{TicketID: t.ID, AgentID: t.AgentID})
	return err
}

// TicketDocument is the Conversation Document: the conversation as handed to the human side.
type TicketDocument struct {
	Ticket       parley.Ticket       `json:"ticket"`
	Conversation parley.Conversation `json:"conversation"`
	Customer     *parley.Customer    `json:"customer,omitempty"`
	Messages     []parley.Message    `json:"messages" doc:"The latest messages, oldest first"`
}

// documentMessages bounds the messages in a Conversation Document.
const documentMessages = 200

// ConversationDocument answers Get Conversation for a ticket with the
// Conversation Document; both are logged.
func (s *Service) ConversationDocument(ctx context.Context, tenantID, ticketID, agentID string) (TicketDocument, error) {
	var d TicketDocument
	err := s.Store.InTx(ctx, func(q *store.Queries) error {
		var err error
		if d.Ticket, err = q.GetTicket(ctx, tenantID, ticketID); err != nil {
			return err
		}
		if err := q.AppendEvent(ctx, tenantID, d.Ticket.ConversationID, event.GetConversation, event.GetConversationPayload{TicketID: ticketID, AgentID: agentID}); err != nil {
			return err
		}
		if d.Conversation, err = q.GetConversation(ctx, tenantID, d.Ticket.ConversationID); err != nil {
			return err
		}
		if d.Conversation.CustomerID != "" {
			if c, err := q.GetCustomer(ctx, tenantID, d.Conversation.CustomerID); err == nil {
				d.Customer = &c
			}
		}
		if d.Messages, err = q.RecentMessages(ctx, tenantID, d.Conversation.ID, documentMessages); err != nil {
			return err
		}
		if d.Messages == nil {
			d.Messages = []parley.Message{}
		}
		err = q.AppendEvent(ctx, tenantID, d.Conversation.ID, event.ConversationDocument, event.ConversationDocumentPayload{
			TicketID: ticketID, CustomerID: d.Conversation.CustomerID, Messages: len(d.Messages)})
		return err
	})
	return d, err
}

// CloseConversation closes a conversation and its open ticket; the
// contact's next message starts a new conversation.
func (s *Service) CloseConversation(ctx context.Context, tenantID, id string) (parley.Conversation, error) {
	return s.setStatus(ctx, tenantID, id, parley.ConversationClosed)
}

// ReopenConversation opens a closed conversation again, unless the contact
// has started another one meanwhile (a conflict).
func (s *Service) ReopenConversation(ctx context.Context, tenantID, id string) (parley.Conversation, error) {
	return s.setStatus(ctx, tenantID, id, parley.ConversationOpen)
}

func (s *Service) setStatus(ctx context.Context, tenantID, id string, status parley.ConversationStatus) (parley.Conversation, error) {
	var conv parley.Conversation
	err := s.Store.InTx(ctx, func(q *store.Queries) error {
		var err error
		if conv, err = q.GetConversation(ctx, tenantID, id); err != nil {
			return err
		}
		if conv.Status == status {
			return &parley.Error{Code: parley.CodeConflict, Message: "the conversation is already " + string(status)}
		}
		name := event.ConversationReopened
		if status == parley.ConversationClosed {
			name = event.ConversationClosed
			t, err := q.OpenTicketFor(ctx, tenantID, id)
			if err == nil {
				err = s.closeTicket(ctx, q, &t)
			}
			if err != nil && parley.ErrorCode(err) != parley.CodeNotFound {
				return err
			}
		}
		if err := q.SetConversationStatus(ctx, tenantID, id, status); err != nil {
			if parley.ErrorCode(err) == parley.CodeConflict {
				return &parley.Error{Code: parley.CodeConflict, Message: "the contact has another open conversation"}
			}
			return err
		}
		if err := q.AppendEvent(ctx, tenantID, id, name, event.ConversationStatusPayload{Status: status}); err != nil {
			return err
		}
		conv, err = q.GetConversation(ctx, tenantID, id)
		return err
	})
	return conv, err
}

// Package conversation is the conversation store and its flow: it takes
// inbound messages into conversations, routes them to the AI agent or to a
// human through tickets, and sends the answers through the flow's outbox.
package conversation

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/knowledge"
	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/stage"
	"github.com/parleyhq/parley/store"
)

// Service is the conversation store and router, the AI agent that answers
// (agent.go) and the human side's tickets (tickets.go).
type Service struct {
	Jobs   *jobs.Inserter
	Outbox *channel.Outbox
	Log    *slog.Logger

	// Store runs the transactions of the jobs and of the ticket API.
	Store *store.Store
	// LLM answers customers; nil runs the offline mode (see agent.go).
	LLM *llm.Client
	// Knowledge retrieves the passages an answer is built from.
	Knowledge knowledge.Retriever
	// Tools are the functions offered to the AI agent, per conversation kind.
	Tools *Tools
	// AnswerBudget bounds the LLM part of one answer (all its retries), so
	// a slow model ends in a holding reply rather than an answer that never
	// comes. Default 2 minutes.
	AnswerBudget time.Duration
	// The answer stage (Answers): conversations claimed per turn (default
	// 32), how long a claim is held without renewal (default 10 s), and
	// how many answers may be in flight at once (default 64).
	AnswerBatch       int
	AnswerLease       time.Duration
	AnswerConcurrency int
	// OnCustomerMessage, when set, runs in the transaction that stores a
	// contact's message, e.g. to stop pending follow-ups.
	OnCustomerMessage func(ctx context.Context, q *store.Queries, conv parley.Conversation, msg parley.Message) error
	// Intercept, when set, runs next in that transaction for a customer's
	// message; true means it was handled (an opt-out word) and goes to
	// neither the AI agent nor a human.
	Intercept func(ctx context.Context, q *store.Queries, conv parley.Conversation, msg parley.Message) (bool, error)

	answersOnce   sync.Once
	answers       *stage.Loop
	slotsOnce     sync.Once
	slots         chan struct{}  // one per answer in flight
	inFlight      sync.WaitGroup // answer batches being worked
	batchCtx      context.Context
	cancelBatches context.CancelFunc

	schemaOnce sync.Once
	schema     *llm.Schema
	schemaErr  error
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// Receive implements channel.Receiver: it appends the message to the contact's
// open conversation (opening one if needed), records the active channel and
// the session, logs the received events, and routes the message onwards. A
// redelivered message (same provider id) changes nothing.
func (s *Service) Receive(ctx context.Context, q *store.Queries, in channel.Inbound) (parley.Conversation, error) {
	conv, msg, dup, err := s.Append(ctx, q, in)
	if err != nil || dup {
		return conv, err
	}
	if s.Intercept != nil && conv.Kind == parley.KindCustomer {
		handled, err := s.Intercept(ctx, q, conv, msg)
		if err != nil || handled {
			return conv, err
		}
	}
	return conv, s.route(ctx, q, conv, msg)
}

// Append is Receive without routing: the conversation store's part.
func (s *Service) Append(ctx context.Context, q *store.Queries, in channel.Inbound) (conv parley.Conversation, msg parley.Message, dup bool, err error) {
	if in.Message.ChannelMessageID != "" {
		if _, err := q.MessageByChannelID(ctx, in.Channel.ID, in.Message.ChannelMessageID); err == nil {
			return conv, msg, true, nil
		}
	}
	kind := parley.KindCustomer
	if in.Staff != nil {
		kind = parley.KindStaff
	}
	conv, err = q.OpenConversationByContact(ctx, in.TenantID, kind, in.Phone)
	if parley.ErrorCode(err) == parley.CodeNotFound {
		conv, err = s.open(ctx, q, in, kind)
	}
	if err != nil {
		return conv, msg, false, err
	}

	m := in.Message
	m.TenantID, m.ConversationID, m.Role, m.ChannelID = in.TenantID, conv.ID, parley.RoleCustomer, in.Channel.ID
	if m.Status == "" {
		m.Status = parley.StatusReceived
	}
	msg, err = q.InsertMessage(ctx, m)
	if errors.Is(err, store.ErrDuplicate) {
		return conv, msg, true, nil
	}
	if err != nil {
		return conv, msg, false, err
	}
	if conv, err = q.TouchInbound(ctx, in.TenantID, conv.ID, in.Channel.ID, msg.CreatedAt); err != nil {
		return conv, msg, false, err
	}

	received := event.ReceivedPayload{
		MessageID: msg.ID, ChannelID: in.Channel.ID, ChannelMessageID: msg.ChannelMessageID,
		From: in.Phone, ProfileName: in.ContactName, Type: msg.Type, Content: msg.Content,
	}
	if err := q.AppendEvent(ctx, in.TenantID, conv.ID, event.TextMessageReceived, received); err != nil {
		return conv, msg, false, err
	}
	if in.Customer != nil {
		received.Customer = &event.CustomerInfo{ID: in.Customer.ID, Name: in.Customer.Name, Email: in.Customer.Email, Language: in.Customer.Language, Phone: in.Customer.Phone}
		if err := q.AppendEvent(ctx, in.TenantID, conv.ID, event.TextMessageWithUserInfoReceived, received); err != nil {
			return conv, msg, false, err
		}
	}
	if s.OnCustomerMessage != nil {
		if err := s.OnCustomerMessage(ctx, q, conv, msg); err != nil {
			return conv, msg, false, err
		}
	}
	return conv, msg, false, nil
}

// open starts a conversation for the contact. The language is the
// customer's, else the tenant's default.
func (s *Service) open(ctx context.Context, q *store.Queries, in channel.Inbound, kind parley.ConversationKind) (parley.Conversation, error) {
	c := parley.Conversation{TenantID: in.TenantID, Kind: kind, ContactPhone: in.Phone, ChannelID: in.Channel.ID}
	if in.Customer != nil {
		c.CustomerID, c.Language = in.Customer.ID, in.Customer.Language
	}
	if in.Staff != nil {
		c.StaffMemberID = in.Staff.ID
	}
	if c.Language == "" {
		t, err := q.GetTenant(ctx, in.TenantID)
		if err != nil {
			return c, err
		}
		c.Language = t.DefaultLanguage
	}
	return q.CreateConversation(ctx, c)
}

package channel

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/phone"
	"github.com/parleyhq/parley/store"
)

// ReceivedArgs is the WhatsApp Business Text Message Received job: the
// inbox messages one webhook brought for one channel, to identify and hand
// to the conversation flow. One job per webhook and channel, not per
// message, keeps the queue's cost per message low; Meta sends one message
// per webhook most of the time anyway.
type ReceivedArgs struct {
	TenantID  string   `json:"tenant_id"`
	ChannelID string   `json:"channel_id"`
	InboxIDs  []string `json:"inbox_ids"`
}

// Kind is the job's stable name (event.TextMessageReceived).
func (ReceivedArgs) Kind() string { return "whatsapp_business_text_message_received" }

// InsertOpts: a message that keeps failing is retried for about a day
// (River's backoff), then stays visible as discarded with its inbox row
// unprocessed.
func (ReceivedArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 20} }

type receivedWorker struct {
	river.WorkerDefaults[ReceivedArgs]
	g *Gateway
}

// ReceivedWorker works the received job; register it with river.AddWorker.
func (g *Gateway) ReceivedWorker() river.Worker[ReceivedArgs] { return &receivedWorker{g: g} }

func (w *receivedWorker) Timeout(*river.Job[ReceivedArgs]) time.Duration { return w.g.receivedTimeout }

// Work takes each inbox message in its own transaction, in arrival order,
// so a message that fails does not hold back those before it, and a retry
// only redoes what is left (processed messages are marked in the same
// transaction as their conversation changes).
func (w *receivedWorker) Work(ctx context.Context, job *river.Job[ReceivedArgs]) error {
	log := w.g.log.With("tenant_id", job.Args.TenantID, "channel_id", job.Args.ChannelID, "job_id", job.ID)
	for _, id := range job.Args.InboxIDs {
		if err := w.g.receive(ctx, log, job.Args.TenantID, id, 0); err != nil {
			return fmt.Errorf("inbox message %s: %w", id, err)
		}
	}
	return nil
}

// receive identifies one inbox message's sender and hands it to the flow.
// A backstop job (not 0) is deleted in the same commit.
func (g *Gateway) receive(ctx context.Context, log *slog.Logger, tenantID, inboxID string, backstop int64) error {
	var conv parley.Conversation
	var item store.InboxMessage
	var outcome string
	err := g.store.InTx(ctx, func(q *store.Queries) error {
		if err := g.jobs.DeleteTx(ctx, q.Tx(), backstop); err != nil {
			return err
		}
		var err error
		item, err = q.GetInbox(ctx, tenantID, inboxID)
		if parley.ErrorCode(err) == parley.CodeNotFound {
			outcome = "gone" // its channel was deleted meanwhile
			return nil
		}
		if err != nil {
			return err
		}
		if item.ProcessedAt != nil {
			outcome = "already processed"
			return nil
		}
		ch, err := q.GetChannel(ctx, tenantID, item.ChannelID)
		if err != nil {
			return err
		}
		in, skip, err := identify(ctx, q, ch, item)
		if err != nil {
			return err
		}
		outcome = "received"
		if skip != "" {
			outcome = "skipped: " + skip
		} else {
			if err := q.LockContact(ctx, tenantID, in.Phone); err != nil {
				return err
			}
			if conv, err = g.receiver.Receive(ctx, q, in); err != nil {
				return err
			}
		}
		_, err = q.MarkInboxProcessed(ctx, tenantID, inboxID, outcome)
		return err
	})
	if err != nil {
		return err
	}
	attrs := []any{"inbox_id", inboxID, "provider_message_id", item.ProviderMessageID, "outcome", outcome}
	if conv.ID != "" {
		attrs = append(attrs, "conversation_id", conv.ID)
	}
	if outcome == "received" || outcome == "already processed" {
		log.DebugContext(ctx, "inbound message received", attrs...)
	} else {
		log.WarnContext(ctx, "inbound message not taken into a conversation", attrs...)
	}
	return nil
}

// identify is the gateway's step 2 (see the package comment): the sender's number in
// E.164, and the tenant's staff member or customer with it. A staff number
// makes a staff conversation and is not also treated as a customer. A
// sender without a usable number (a username-only user) is skipped, with
// the reason recorded on its inbox row.
func identify(ctx context.Context, q *store.Queries, ch parley.Channel, item store.InboxMessage) (Inbound, string, error) {
	e164, err := phone.Normalize(item.Sender, "")
	if err != nil {
		return Inbound{}, fmt.Sprintf("sender %q is not a phone number", item.Sender), nil
	}
	in := Inbound{
		TenantID:    ch.TenantID,
		Channel:     ch,
		Phone:       e164,
		ContactName: item.ContactName,
		Message: parley.Message{
			Role:             parley.RoleCustomer,
			Type:             item.Type,
			Content:          item.Content,
			ChannelID:        ch.ID,
			ChannelMessageID: item.ProviderMessageID,
			Status:           parley.StatusReceived,
			Extra:            item.Extra,
			CreatedAt:        item.SentAt,
		},
	}
	staff, err := q.StaffMemberByPhone(ctx, ch.TenantID, e164)
	switch {
	case err == nil:
		in.Staff = &staff
		return in, "", nil
	case parley.ErrorCode(err) != parley.CodeNotFound:
		return in, "", err
	}
	customer, err := q.CustomerByPhone(ctx, ch.TenantID, e164)
	switch {
	case err == nil:
		in.Customer = &customer
	case parley.ErrorCode(err) != parley.CodeNotFound:
		return in, "", err
	}
	return in, "", nil
}

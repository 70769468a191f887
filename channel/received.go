package channel

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/phone"
	"github.com/parleyhq/parley/stage"
	"github.com/parleyhq/parley/store"
)

// ReceivedArgs is the WhatsApp Business Text Message Received job that
// older versions queued per webhook and channel. The receive stage now
// takes inbox messages in; the job is kept so that rows queued before an
// upgrade are worked (see ReceivedWorker).
type ReceivedArgs struct {
	TenantID  string   `json:"tenant_id"`
	ChannelID string   `json:"channel_id"`
	InboxIDs  []string `json:"inbox_ids"`
}

// Kind is the job's stable name (event.TextMessageReceived).
func (ReceivedArgs) Kind() string { return "whatsapp_business_text_message_received" }

// InsertOpts: only older versions queued it; the shim below just wakes the
// receive stage, so a few attempts are plenty.
func (ReceivedArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 3} }

type receivedWorker struct {
	river.WorkerDefaults[ReceivedArgs]
	g *Gateway
}

// ReceivedWorker works received jobs an older version queued; register it
// with river.AddWorker. Their inbox rows are unprocessed, so the receive
// stage takes them in anyway: the job only wakes it.
func (g *Gateway) ReceivedWorker() river.Worker[ReceivedArgs] { return &receivedWorker{g: g} }

func (w *receivedWorker) Work(ctx context.Context, job *river.Job[ReceivedArgs]) error {
	w.g.receiving.Wake()
	return nil
}

// maxReceiveAttempts is how often the receive stage claims a message that
// keeps failing before it gives up on it (marks it processed with a
// "failed" outcome and logs an error): about this many leases.
const maxReceiveAttempts = 20

// Receiving is the receive stage's loop: run it (Run) in every serving
// process; webhooks wake it after each commit that stored messages.
func (g *Gateway) Receiving() *stage.Loop { return g.receiving }

// receiveTurn takes a batch of ready inbox messages into their
// conversations: claim, work and result in one transaction (the work is
// all in the database), so a process that dies mid-batch leaves nothing
// behind but a rollback. A batch that fails is gone through one message at
// a time, each under a short lease, so a message that cannot be taken in
// holds back only itself and is tried again when its lease runs out.
func (g *Gateway) receiveTurn(ctx context.Context) (int, error) {
	var items []store.InboxMessage
	err := g.receiveTx(ctx, func(q *store.Queries) error {
		var err error
		if items, err = q.TakeInbox(ctx, g.receiveBatch); err != nil || len(items) == 0 {
			return err
		}
		return g.receiveItems(ctx, q, items)
	})
	if err == nil || len(items) == 0 || ctx.Err() != nil {
		return len(items), err
	}
	if len(items) > 1 {
		g.log.WarnContext(ctx, "receive batch failed; taking its messages in one by one", "messages", len(items), "err", err)
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	claim := store.NewClaim()
	leased, lerr := g.store.LeaseInbox(ctx, claim, ids, g.receiveLease)
	if lerr != nil {
		return len(items), fmt.Errorf("lease a failed batch: %w (batch: %w)", lerr, err)
	}
	for _, it := range leased {
		err := g.receiveTx(ctx, func(q *store.Queries) error {
			mine, err := q.FinishInbox(ctx, claim, []string{it.ID})
			if err != nil || !mine[it.ID] {
				return err
			}
			return g.receiveItems(ctx, q, []store.InboxMessage{it})
		})
		if err == nil {
			continue
		}
		log := g.log.With("tenant_id", it.TenantID, "channel_id", it.ChannelID, "inbox_id", it.ID, "provider_message_id", it.ProviderMessageID)
		if it.Attempts < maxReceiveAttempts {
			log.WarnContext(ctx, "inbound message not taken in; tried again after its lease", "attempts", it.Attempts, "err", err)
			continue
		}
		log.ErrorContext(ctx, "inbound message given up after repeated failures", "attempts", it.Attempts, "err", err)
		cause := err
		if gerr := g.store.InTx(ctx, func(q *store.Queries) error {
			mine, err := q.FinishInbox(ctx, claim, []string{it.ID})
			if err != nil || !mine[it.ID] {
				return err
			}
			return q.SetInboxOutcome(ctx, it.ID, "failed: "+cause.Error())
		}); gerr != nil {
			log.WarnContext(ctx, "could not record the failed inbound message", "err", gerr)
		}
	}
	return len(items), nil
}

// receiveTx runs fn in one transaction; a panic (a bug) fails the
// transaction like an error instead of taking the process down.
func (g *Gateway) receiveTx(ctx context.Context, fn func(q *store.Queries) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic taking inbound messages in: %v\n%s", p, debug.Stack())
		}
	}()
	return g.store.InTx(ctx, fn)
}

// received is an inbox message on its way into a conversation.
type received struct {
	item store.InboxMessage
	in   Inbound
	log  *slog.Logger
}

// receiveItems identifies each message's sender and hands it to the flow,
// in arrival order, in q's transaction, which has marked them processed.
// The contacts are locked up front in one order, so two processes'
// batches never deadlock over them.
func (g *Gateway) receiveItems(ctx context.Context, q *store.Queries, items []store.InboxMessage) error {
	channels := map[string]parley.Channel{}
	var todo []received
	var locks [][2]string
	var err error
	for _, item := range items {
		ch, ok := channels[item.ChannelID]
		if !ok {
			if ch, err = q.GetChannel(ctx, item.TenantID, item.ChannelID); err != nil {
				return err
			}
			channels[item.ChannelID] = ch
		}
		log := g.log.With("tenant_id", item.TenantID, "channel_id", item.ChannelID)
		in, skip := identify(ch, item)
		if skip != "" {
			log.WarnContext(ctx, "inbound message not taken into a conversation", "inbox_id", item.ID,
				"provider_message_id", item.ProviderMessageID, "outcome", "skipped: "+skip)
			if err := q.SetInboxOutcome(ctx, item.ID, "skipped: "+skip); err != nil {
				return err
			}
			continue
		}
		todo = append(todo, received{item: item, in: in, log: log})
		locks = append(locks, [2]string{in.TenantID, in.Phone})
	}
	if err := q.LockContacts(ctx, locks); err != nil {
		return err
	}
	// Who the senders are: one read of staff and one of customers for the
	// whole batch. A staff number makes a staff conversation and is not
	// also treated as a customer.
	staff, customers, err := q.ContactsByPhone(ctx, locks)
	if err != nil {
		return err
	}
	for _, r := range todo {
		key := [2]string{r.in.TenantID, r.in.Phone}
		if m, ok := staff[key]; ok {
			r.in.Staff = &m
		} else if c, ok := customers[key]; ok {
			r.in.Customer = &c
		}
		conv, err := g.receiver.Receive(ctx, q, r.in)
		if err != nil {
			return fmt.Errorf("inbox message %s: %w", r.item.ID, err)
		}
		r.log.DebugContext(ctx, "inbound message received", "inbox_id", r.item.ID, "provider_message_id", r.item.ProviderMessageID,
			"conversation_id", conv.ID)
	}
	return nil
}

// identify is the gateway's step 2 (see the package comment): the
// sender's number in E.164 (receiveItems then looks up the tenant's staff
// member or customer with it). A sender without a usable number (a
// username-only user) is skipped, with the reason recorded on its inbox row.
//
// On Instagram the sender is an Instagram-scoped id, kept as the contact
// address "ig:<IGSID>" (parley.InstagramContact) where a phone number
// would be.
func identify(ch parley.Channel, item store.InboxMessage) (Inbound, string) {
	var e164 string
	if ch.Type == parley.ChannelInstagram {
		if item.Sender == "" || strings.ContainsFunc(item.Sender, func(r rune) bool { return r < '0' || r > '9' }) {
			return Inbound{}, fmt.Sprintf("sender %q is not an Instagram-scoped id", item.Sender)
		}
		e164 = parley.InstagramContact(item.Sender)
	} else {
		var err error
		if e164, err = phone.Normalize(item.Sender, ""); err != nil {
			return Inbound{}, fmt.Sprintf("sender %q is not a phone number", item.Sender)
		}
	}
	return Inbound{
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
	}, ""
}

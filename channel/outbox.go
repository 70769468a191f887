package channel

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/store"
)

// SendMessageArgs is the Send WhatsApp Business Text Message job: deliver
// one stored outbound message on its conversation's channel. The channel
// package works it; everything that sends inserts it through the Outbox.
type SendMessageArgs struct {
	TenantID       string `json:"tenant_id"`
	ConversationID string `json:"conversation_id"`
	MessageID      string `json:"message_id"`
}

// Kind is the job's stable name.
func (SendMessageArgs) Kind() string { return "send_whatsapp_business_text_message" }

// InsertOpts: a message is sent by one job only, however often it is queued.
func (SendMessageArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 12, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// AgentMessageHook runs in the transaction that queues an agent (AI or
// human) message, e.g. to schedule follow-ups from that moment.
type AgentMessageHook func(ctx context.Context, q *store.Queries, conv parley.Conversation, msg parley.Message) error

// Outbox is the one way out: it stores an outbound message as queued, logs
// Send WhatsApp Business Text Message, and inserts the send job, all in the
// caller's transaction.
type Outbox struct {
	Jobs *jobs.Inserter
	// OnAgentMessage, when set, runs for AI and human agent messages.
	OnAgentMessage AgentMessageHook

	// Deliver, when set, sends a message queued in a context marked with
	// DeliverAfterCommit right after its transaction commits, in the
	// caller's goroutine, instead of through the queue: the send job is
	// still inserted with the message, as a backstop scheduled Backstop
	// later, and Deliver deletes it when it records the outcome. Deliver
	// must give up before notAfter, when the backstop may start.
	Deliver func(ctx context.Context, args SendMessageArgs, backstop int64, notAfter time.Time)
	// Backstop is how long the send job waits for Deliver (default 1 minute).
	Backstop time.Duration
	// Now is the clock the backstop is scheduled by (River's).
	Now func() time.Time
}

type deliverKey struct{}

// DeliverAfterCommit marks ctx: messages queued with it are sent right
// after their transaction commits (when the Outbox has a Deliver), by the
// goroutine that committed. Job workers mark their context; a request
// handler does not, so an API call never waits for a provider.
func DeliverAfterCommit(ctx context.Context) context.Context {
	return context.WithValue(ctx, deliverKey{}, true)
}

func deliverInline(ctx context.Context) bool {
	v, _ := ctx.Value(deliverKey{}).(bool)
	return v
}

// Queue stores msg (role, content, type, template…) in conv and enqueues
// its delivery on conv's active channel. Agent messages move the
// conversation's last-agent-message time, which starts follow-up clocks.
func (o *Outbox) Queue(ctx context.Context, q *store.Queries, conv parley.Conversation, msg parley.Message) (parley.Message, error) {
	if q.Tx() == nil {
		return msg, fmt.Errorf("outbox: Queue must run in a transaction")
	}
	msg.TenantID, msg.ConversationID, msg.Status = conv.TenantID, conv.ID, parley.StatusQueued
	if msg.ChannelID == "" {
		msg.ChannelID = conv.ChannelID
	}
	if msg.Type == "" {
		msg.Type = parley.MessageText
		if msg.Template != nil {
			msg.Type = parley.MessageTemplate
		}
	}
	msg, err := q.InsertMessage(ctx, msg)
	if err != nil {
		return msg, err
	}
	if msg.Role == parley.RoleAI || msg.Role == parley.RoleAgent {
		if err := q.TouchOutbound(ctx, conv.TenantID, conv.ID, msg.CreatedAt); err != nil {
			return msg, err
		}
		now := msg.CreatedAt
		conv.LastAgentMessageAt = &now
	}
	args := SendMessageArgs{TenantID: conv.TenantID, ConversationID: conv.ID, MessageID: msg.ID}
	if _, err := q.AppendEvent(ctx, conv.TenantID, conv.ID, event.SendTextMessage, event.SendTextMessagePayload{
		MessageID: msg.ID, Role: msg.Role, Type: msg.Type, ChannelID: msg.ChannelID, Content: msg.Content, Template: msg.Template,
	}); err != nil {
		return msg, err
	}
	if o.Deliver != nil && deliverInline(ctx) {
		wait := o.Backstop
		if wait <= 0 {
			wait = time.Minute
		}
		now := time.Now
		if o.Now != nil {
			now = o.Now
		}
		at := now().Add(wait)
		id, err := o.Jobs.InsertBackstopTx(ctx, q.Tx(), args, nil, at)
		if err != nil {
			return msg, fmt.Errorf("enqueue send: %w", err)
		}
		if id != 0 { // 0: a send job for it existed already and sends it
			q.AfterCommit(ctx, func(ctx context.Context) { o.Deliver(ctx, args, id, at) })
		}
	} else if err := o.Jobs.InsertTx(ctx, q.Tx(), args, nil); err != nil {
		return msg, fmt.Errorf("enqueue send: %w", err)
	}
	if o.OnAgentMessage != nil && (msg.Role == parley.RoleAI || msg.Role == parley.RoleAgent) {
		if err := o.OnAgentMessage(ctx, q, conv, msg); err != nil {
			return msg, err
		}
	}
	return msg, nil
}

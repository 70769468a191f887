package channel

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/store"
)

// SendMessageArgs is the send job of versions before the send stage; jobs
// they queued are still worked (they wake the stage), none are inserted.
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

// Outbox is the one way out: it stores an outbound message as queued and
// logs Send WhatsApp Business Text Message in the caller's transaction.
// The queued message is the send stage's work item (SendStage):
// no job is inserted; Wake, when set, asks the stage for a turn once the
// transaction has committed.
type Outbox struct {
	// OnAgentMessage, when set, runs for AI and human agent messages.
	OnAgentMessage AgentMessageHook
	// Wake, when set, is called after the commit that queued a message.
	Wake func()
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
	if err := q.AppendEvent(ctx, conv.TenantID, conv.ID, event.SendTextMessage, event.SendTextMessagePayload{
		MessageID: msg.ID, Role: msg.Role, Type: msg.Type, ChannelID: msg.ChannelID, Content: msg.Content, Template: msg.Template,
	}); err != nil {
		return msg, err
	}
	if o.Wake != nil {
		q.AfterCommit(ctx, func(context.Context) { o.Wake() })
	}
	if o.OnAgentMessage != nil && (msg.Role == parley.RoleAI || msg.Role == parley.RoleAgent) {
		if err := o.OnAgentMessage(ctx, q, conv, msg); err != nil {
			return msg, err
		}
	}
	return msg, nil
}

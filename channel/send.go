// Sending sends what the conversation flow queued: its send
// stage (SendStage) takes queued messages in batches and sends them on their
// channel through its Provider, and applies WhatsApp's 24-hour rule
// (CheckWindow), in this one place.
//
// Sending is at least once: neither Meta nor Twilio takes an idempotency
// key. Right before calling the provider, the holder of a message's claim
// marks it (a compare-and-swap on the claim, one statement per batch). If
// the outcome is then lost — the process dies, the call times out after
// the request went out, or the commit fails — the next holder finds the
// mark without a provider id and waits until StatusWait after it for the
// status webhook that the provider sends for every message it accepted
// (Meta always; Twilio when PARLEY_PUBLIC_URL is set), which echoes our
// message id and records the provider id. Only when none comes does it
// send again.

package channel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// TemplateMeter is what the sender needs of usage.Meter.
type TemplateMeter interface {
	// TemplateAllowed returns an error (a *usage.BudgetError) when the
	// tenant may not send another template this month.
	TemplateAllowed(ctx context.Context, q *store.Queries, tenantID string) error
	// CountTemplate charges one accepted template send in q's transaction.
	CountTemplate(ctx context.Context, q *store.Queries, tenantID string) error
}

// Sender holds the providers and settings the send stage uses.
type Sender struct {
	Store *store.Store
	Log   *slog.Logger
	// Usage, when set, counts accepted template sends per tenant and stops
	// them at the tenant's monthly template budget.
	Usage TemplateMeter

	// StatusWait is how long after an attempt whose outcome was lost the
	// message waits for that attempt's status webhook before it is sent
	// again; 0 means DefaultStatusWait.
	StatusWait time.Duration

	// Providers are the providers to send through, by channel type; a
	// message on a channel of another type fails as channel_unavailable.
	Providers map[parley.ChannelType]Provider
}

// oldSendWorker works the send jobs of versions before the stage: their
// message is the stage's already (every queued message is), so the job
// only wakes it.
type oldSendWorker struct {
	river.WorkerDefaults[SendMessageArgs]
	st *SendStage
}

// OldJobs is the worker of the send jobs older versions queued; register
// it with river.AddWorker.
func (st *SendStage) OldJobs() river.Worker[SendMessageArgs] { return &oldSendWorker{st: st} }

func (w *oldSendWorker) Work(ctx context.Context, job *river.Job[SendMessageArgs]) error {
	w.st.Wake()
	return nil
}

// DefaultStatusWait covers the second or two Meta usually takes to post a
// "sent" status, with room to spare, and is short enough that a message
// caught by a crash goes within 15 s of the restart: by then its lease
// (10 s) and this wait, both counted from before the crash, are over.
const DefaultStatusWait = 10 * time.Second

// Error codes Parley itself records on messages it refuses to send.
const (
	CodeOutsideWindow  = "outside_window"
	CodeInvalidMessage = "invalid_message"
	CodeNoChannel      = "channel_unavailable"
	CodeGaveUp         = "retries_exhausted"
	// CodeBudgetReached: a template message over its tenant's monthly
	// template budget (usage.CodeBudgetReached).
	CodeBudgetReached = "budget_reached"
)

// CheckWindow applies the messaging window of the channel type t
// (parley.ChannelType.Window: WhatsApp's 24-hour rule with templates at any
// time; Instagram's 24 hours, 7 days for a person's reply, no templates).
// It returns an error wrapping the window's refusal (errors.Is with
// parley.ErrOutsideWindow or parley.ErrOutsideInstagramWindow) when msg may
// not be sent at now. Callers that want to choose a template ahead of time
// call it too; the send stage always does, before any HTTP call.
func CheckWindow(t parley.ChannelType, conv parley.Conversation, msg parley.Message, now time.Time) error {
	w := t.Window()
	if w.Allows(conv.LastCustomerMessageAt, msg.Role, msg.Template != nil, now) {
		return nil
	}
	if msg.Template != nil {
		return fmt.Errorf("%w (a %s channel cannot send templates)", w.Refusal(), t)
	}
	last := "never wrote"
	if conv.LastCustomerMessageAt != nil {
		last = "last wrote " + now.Sub(*conv.LastCustomerMessageAt).Truncate(time.Minute).String() + " ago"
	}
	return fmt.Errorf("%w (the contact %s)", w.Refusal(), last)
}

// maybeDelivered reports whether a failed call may still have reached the
// provider: the request went out and no answer came back (a timeout, a
// dropped connection). An answer of any status, a connection that was
// never made, or an error before any request means it did not.
func maybeDelivered(err error) bool {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return false
	}
	var op *net.OpError
	return !(errors.As(err, &op) && op.Op == "dial")
}

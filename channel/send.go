// Sending works what the conversation flow queued: it works the
// Send WhatsApp Business Text Message job (SendMessageArgs) on the
// message's channel, WhatsApp Cloud API or Twilio, and applies WhatsApp's
// 24-hour rule (CheckWindow), in this one place.
//
// Sending is at least once: neither Meta nor Twilio takes an idempotency
// key. Before calling the provider, an attempt marks the message with its
// id and time (one commit). If the attempt's outcome is then lost — its
// process dies, its call times out after the request went out, or the
// commit of the provider id fails — a retry finds the mark without a
// provider id and does not send at once: it waits until StatusWait after
// the earlier attempt began for the status webhook that the provider sends
// for every message it accepted (Meta always; Twilio when PARLEY_PUBLIC_URL
// is set), which echoes our message id and records the provider id. Only
// when none comes does it send again. So a message is sent twice only when
// an accepted send's status webhook also fails to arrive within StatusWait;
// the price is that a send whose earlier attempt died before reaching the
// provider goes out StatusWait late. The inline send right after the commit
// (Deliver) and its backstop job are two attempts of this kind.

package channel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/whatsapp"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/usage"
)

// WhatsAppClient is what the sender needs of whatsapp.Client.
type WhatsAppClient interface {
	Send(ctx context.Context, token, phoneNumberID string, m whatsapp.Outbound) (string, error)
}

// TemplateMeter is what the sender needs of usage.Meter.
type TemplateMeter interface {
	// TemplateAllowed returns an error (a *usage.BudgetError) when the
	// tenant may not send another template this month.
	TemplateAllowed(ctx context.Context, q *store.Queries, tenantID string) error
	// CountTemplate charges one accepted template send in q's transaction.
	CountTemplate(ctx context.Context, q *store.Queries, tenantID string) error
}

// Sender works the send job.
type Sender struct {
	river.WorkerDefaults[SendMessageArgs]
	Store *store.Store
	// Jobs deletes the send job when Deliver sent the message itself.
	Jobs     *jobs.Inserter
	WhatsApp WhatsAppClient
	Twilio   TwilioClient
	Log      *slog.Logger
	// Usage, when set, counts accepted template sends per tenant and stops
	// them at the tenant's monthly template budget.
	Usage TemplateMeter
	// PublicURL, when set, is where Twilio posts the statuses of the
	// messages sent here (PARLEY_PUBLIC_URL).
	PublicURL string

	// StatusWait is how long after an attempt whose outcome was lost a
	// retry waits for that attempt's status webhook before sending again;
	// 0 means DefaultStatusWait.
	StatusWait time.Duration

	// waits remembers the least wait a retryable failure asked for (a
	// Retry-After), from Work to NextRetry of the same attempt.
	waits sync.Map // job id → time.Duration
}

// DefaultStatusWait covers the seconds Meta usually takes to post a "sent"
// status, with room for a restart of the receiving process.
const DefaultStatusWait = 30 * time.Second

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

// CheckWindow is WhatsApp's 24-hour rule: a free-form message may go only
// within 24 hours of the contact's last message; a template may always go.
// It returns an error wrapping parley.ErrOutsideWindow (errors.Is) when msg
// may not be sent at now. Callers that want to choose a template ahead of
// time call it too; the send job always does, before any HTTP call.
func CheckWindow(conv parley.Conversation, msg parley.Message, now time.Time) error {
	if msg.Template != nil || parley.WindowOpen(conv.LastCustomerMessageAt, now) {
		return nil
	}
	last := "never wrote"
	if conv.LastCustomerMessageAt != nil {
		last = "last wrote " + now.Sub(*conv.LastCustomerMessageAt).Truncate(time.Minute).String() + " ago"
	}
	return fmt.Errorf("%w (the contact %s)", parley.ErrOutsideWindow, last)
}

// Timeout covers the rate limiter's wait and one provider call.
func (s *Sender) Timeout(*river.Job[SendMessageArgs]) time.Duration { return 45 * time.Second }

// Work sends one queued message. It is idempotent: a message that already
// has a provider id, or is no longer queued, is left alone.
func (s *Sender) Work(ctx context.Context, job *river.Job[SendMessageArgs]) error {
	a := job.Args
	log := s.Log.With("tenant_id", a.TenantID, "conversation_id", a.ConversationID, "message_id", a.MessageID, "job_id", job.ID, "attempt", job.Attempt)
	err := s.send(ctx, log, a, 0, fmt.Sprintf("%d.%d", job.ID, job.Attempt))
	var f *sendFailure
	var w *statusWait
	switch {
	case errors.As(err, &w):
		// A retry rather than a snooze: NextRetry reads the same clock as
		// the wait, and the attempts it uses are few (one per lost outcome).
		s.waits.Store(job.ID, w.wait)
		return err
	case errors.As(err, &f):
		return s.failed(ctx, log, job, f.msg, f.err)
	}
	return err
}

// statusWait says an earlier attempt may have reached the provider: its
// status webhook is awaited before sending again.
type statusWait struct{ wait time.Duration }

func (w *statusWait) Error() string {
	return fmt.Sprintf("waiting %s for the status of an earlier attempt before sending again", w.wait.Round(time.Second))
}

// Deliver is Outbox's Deliver: it sends a message right after the
// transaction that queued it, and deletes the send job that backs it up
// in the commit that records the outcome. When the send may pass on a
// retry (a rate limit, a server error, the database), it leaves the
// outcome to the backstop job and its retries. The provider call ends
// before notAfter, when the backstop may start, so both never send.
func (s *Sender) Deliver(ctx context.Context, a SendMessageArgs, backstop int64, notAfter time.Time) {
	log := s.Log.With("tenant_id", a.TenantID, "conversation_id", a.ConversationID, "message_id", a.MessageID, "backstop_job_id", backstop)
	// Keep a margin for clocks: the backstop's time is judged by the
	// database (PostgreSQL) or River's clock, this deadline by ours.
	left := notAfter.Sub(s.Store.Clock().Now()) - deliverMargin
	if left <= 0 {
		return // too late: the backstop sends it
	}
	ctx, cancel := context.WithTimeout(ctx, left)
	defer cancel()
	err := s.send(ctx, log, a, backstop, fmt.Sprintf("inline.%d", backstop))
	var f *sendFailure
	var w *statusWait
	switch {
	case err == nil:
	case errors.As(err, &w):
		log.InfoContext(ctx, "an earlier attempt may have reached the provider; its job decides", "wait", w.wait)
	case errors.As(err, &f):
		if fc, ok := classify(f.err); ok && !fc.retryable {
			err = s.fail(ctx, log, f.msg, fc.code, fc.reason, f.err, backstop)
		}
		if !jobs.IsPermanent(err) {
			log.InfoContext(ctx, "send failed; its job retries it", "err", f.err)
		}
	case jobs.IsPermanent(err):
	default:
		log.InfoContext(ctx, "send left to its job", "err", err)
	}
}

// deliverMargin is how long before its backstop's time an inline send
// gives up.
const deliverMargin = 10 * time.Second

// sendFailure is a provider call that failed: Work decides on retries,
// Deliver leaves them to the job.
type sendFailure struct {
	msg parley.Message
	err error
}

func (f *sendFailure) Error() string { return f.err.Error() }
func (f *sendFailure) Unwrap() error { return f.err }

// send delivers a message once: outcomes that settle it (sent, refused
// for good) are recorded, with the backstop job (when not 0) deleted in
// the same commit; a provider error comes back as a *sendFailure.
func (s *Sender) send(ctx context.Context, log *slog.Logger, a SendMessageArgs, backstop int64, attempt string) error {
	r := s.Store.Read() // the commit that queued it is visible there
	msg, err := r.GetMessage(ctx, a.TenantID, a.MessageID)
	if parley.ErrorCode(err) == parley.CodeNotFound {
		log.InfoContext(ctx, "message gone before it was sent")
		return s.dropBackstop(ctx, backstop)
	}
	if err != nil {
		return err
	}
	if msg.ChannelMessageID != "" || msg.Status != parley.StatusQueued {
		log.InfoContext(ctx, "message already sent or settled; not sending again", "status", msg.Status)
		return s.dropBackstop(ctx, backstop)
	}
	conv, err := r.GetConversation(ctx, a.TenantID, msg.ConversationID)
	if err != nil {
		return err
	}
	channelID := msg.ChannelID
	if channelID == "" {
		channelID = conv.ChannelID
	}
	ch, err := r.GetChannel(ctx, a.TenantID, channelID)
	if parley.ErrorCode(err) == parley.CodeNotFound || channelID == "" {
		return s.fail(ctx, log, msg, CodeNoChannel, "the conversation has no channel to send on", errors.New("no channel"), backstop)
	}
	if err != nil {
		return err
	}
	if err := CheckWindow(conv, msg, s.Store.Clock().Now()); err != nil {
		return s.fail(ctx, log, msg, CodeOutsideWindow, err.Error(), err, backstop)
	}
	if msg.Template != nil && s.Usage != nil {
		if err := s.Usage.TemplateAllowed(ctx, r, msg.TenantID); err != nil {
			var be *usage.BudgetError
			if !errors.As(err, &be) {
				return err // the database: retried
			}
			return s.fail(ctx, log, msg, CodeBudgetReached, be.Error(), err, backstop, func(q *store.Queries) error {
				_, err := q.AppendEvent(ctx, msg.TenantID, msg.ConversationID, event.BudgetReached, event.BudgetReachedPayload{
					Budget: be.Kind, Month: be.Month, Used: be.Used, Limit: be.Limit, MessageID: msg.ID, Outcome: "message_failed"})
				return err
			})
		}
	}

	// An earlier attempt may have reached the provider (see the package
	// comment): wait for its status before sending again.
	if wait, err := s.earlierAttempt(ctx, log, ch, msg, attempt); err != nil {
		return err
	} else if wait > 0 {
		return &statusWait{wait: wait}
	}
	if marked, err := s.Store.MarkSending(ctx, msg.TenantID, msg.ID, attempt); err != nil {
		return err
	} else if !marked {
		log.InfoContext(ctx, "message settled meanwhile (a status arrived); not sending again")
		return s.dropBackstop(ctx, backstop)
	}

	var providerID string
	switch ch.Type {
	case parley.ChannelWhatsApp:
		providerID, err = s.sendWhatsApp(ctx, ch, conv, msg)
	case parley.ChannelTwilio:
		providerID, err = s.sendTwilio(ctx, ch, conv, msg)
	default:
		return s.fail(ctx, log, msg, CodeNoChannel, fmt.Sprintf("channel type %q cannot send WhatsApp messages", ch.Type), errors.New("wrong channel type"), backstop)
	}
	if err != nil {
		if !maybeDelivered(err) {
			// The provider answered no (or was never reached): a retry
			// need not wait for a status. If this fails, it waits; no harm.
			_ = s.Store.ClearSending(context.WithoutCancel(ctx), msg.TenantID, msg.ID, attempt)
		}
		return &sendFailure{msg: msg, err: err}
	}
	// The provider has the message from here on: failing to record it
	// means a retry sends it again (see the package comment). So the
	// record does not die with the send's deadline.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	err = s.Store.InTx(ctx, func(q *store.Queries) error {
		if err := s.Jobs.DeleteTx(ctx, q.Tx(), backstop); err != nil {
			return err
		}
		if msg.Template != nil && s.Usage != nil {
			// The provider accepted it: it is paid for.
			if err := s.Usage.CountTemplate(ctx, q, msg.TenantID); err != nil {
				return err
			}
		}
		changed, err := q.AdvanceMessageDelivery(ctx, msg.TenantID, msg.ID, store.MessageUpdate{ChannelMessageID: providerID, Status: parley.StatusSent})
		if err != nil || !changed {
			return err
		}
		_, err = q.AppendEvent(ctx, msg.TenantID, msg.ConversationID, event.MessageStatusChanged,
			event.MessageStatusPayload{MessageID: msg.ID, ChannelID: ch.ID, ChannelMessageID: providerID, Status: parley.StatusSent})
		return err
	})
	if err != nil {
		log.ErrorContext(ctx, "message sent but its provider id was not recorded; a retry waits for its status webhook", "channel_message_id", providerID, "err", err)
		return err
	}
	log.InfoContext(ctx, "message sent", "channel_id", ch.ID, "channel_message_id", providerID)
	return nil
}

// dropBackstop deletes a backstop job whose message needs nothing more.
func (s *Sender) dropBackstop(ctx context.Context, backstop int64) error {
	if backstop == 0 {
		return nil
	}
	return s.Store.InTx(ctx, func(q *store.Queries) error { return s.Jobs.DeleteTx(ctx, q.Tx(), backstop) })
}

// earlierAttempt looks for the mark of another attempt on msg. It returns
// how long to wait for that attempt's status webhook, or 0 to send now:
// there is no such mark, no status will come, or the wait is over.
func (s *Sender) earlierAttempt(ctx context.Context, log *slog.Logger, ch parley.Channel, msg parley.Message, attempt string) (time.Duration, error) {
	mark, ok, err := s.Store.SendingMark(ctx, msg.TenantID, msg.ID)
	if err != nil || !ok || mark.Attempt == attempt {
		return 0, err
	}
	log = log.With("earlier_attempt", mark.Attempt, "earlier_started_at", mark.StartedAt)
	if ch.Type == parley.ChannelTwilio && s.PublicURL == "" {
		log.WarnContext(ctx, "an earlier attempt may have reached Twilio, and without PARLEY_PUBLIC_URL no status will tell: sending again")
		return 0, nil
	}
	wait := s.StatusWait
	if wait <= 0 {
		wait = DefaultStatusWait
	}
	if left := mark.StartedAt.Add(wait).Sub(s.Store.Clock().Now()); left > 0 {
		log.InfoContext(ctx, "an earlier attempt may have reached the provider: waiting for its status before sending again", "wait", left)
		return left, nil
	}
	log.WarnContext(ctx, "no status came for an earlier attempt: sending again", "status_wait", wait)
	return 0, nil
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

func (s *Sender) sendWhatsApp(ctx context.Context, ch parley.Channel, conv parley.Conversation, msg parley.Message) (string, error) {
	out, err := whatsAppOutbound(conv.ContactPhone, msg)
	if err != nil {
		return "", err
	}
	return s.WhatsApp.Send(ctx, ch.AccessToken, ch.PhoneNumberID, out)
}

// failure is a send error in provider-neutral terms.
type failure struct {
	code, reason string
	retryable    bool
	wait         time.Duration // least wait before a retry, when the provider said
}

// classify reads a send error. ok is false for errors that are not about
// the message (the database, a cancelled context): those are retried.
func classify(err error) (f failure, ok bool) {
	var we *whatsapp.SendError
	var pe *parley.Error
	switch {
	case errors.As(err, &we):
		code := fmt.Sprint(we.Code)
		if we.Code == 0 {
			code = fmt.Sprintf("http_%d", we.HTTPStatus)
		}
		reason := we.Message
		if we.Details != "" {
			reason += " (" + we.Details + ")"
		}
		return failure{code: code, reason: reason, retryable: we.Retryable, wait: we.RetryAfter}, true
	case asTwilio(err, &f):
		return f, true
	case errors.As(err, &pe):
		return failure{code: CodeInvalidMessage, reason: pe.Error()}, true
	}
	return failure{}, false
}

// failed handles a send that did not go: retry what may pass, record and
// end what will not.
func (s *Sender) failed(ctx context.Context, log *slog.Logger, job *river.Job[SendMessageArgs], msg parley.Message, err error) error {
	f, ok := classify(err)
	if !ok {
		return err
	}
	if !f.retryable {
		return s.fail(ctx, log, msg, f.code, f.reason, err, 0)
	}
	if job.Attempt >= job.MaxAttempts {
		reason := fmt.Sprintf("gave up after %d attempts: %s", job.Attempt, f.reason)
		_ = s.fail(ctx, log, msg, CodeGaveUp, reason, err, 0)
		return err // River discards the job, visibly
	}
	log.WarnContext(ctx, "send failed; will retry", "code", f.code, "reason", f.reason, "wait", f.wait)
	if f.wait > 0 {
		s.waits.Store(job.ID, f.wait)
	}
	return err
}

// fail marks the message failed with a code and reason, logs Message Send
// Failed in its conversation, and ends the job without retry (deleting
// the backstop job, when not 0, in the same commit).
// The functions in also run in that commit, after the failure is recorded.
func (s *Sender) fail(ctx context.Context, log *slog.Logger, msg parley.Message, code, reason string, cause error, backstop int64, also ...func(*store.Queries) error) error {
	err := s.Store.InTx(ctx, func(q *store.Queries) error {
		if err := s.Jobs.DeleteTx(ctx, q.Tx(), backstop); err != nil {
			return err
		}
		changed, err := q.AdvanceMessageDelivery(ctx, msg.TenantID, msg.ID, store.MessageUpdate{Status: parley.StatusFailed, ErrorCode: code, ErrorReason: reason})
		if err != nil || !changed {
			return err
		}
		_, err = q.AppendEvent(ctx, msg.TenantID, msg.ConversationID, event.MessageSendFailed,
			event.MessageStatusPayload{MessageID: msg.ID, ChannelID: msg.ChannelID, ErrorCode: code, ErrorReason: reason, Source: "send"})
		if err != nil {
			return err
		}
		for _, f := range also {
			if err := f(q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err // retried: the failure is not recorded yet
	}
	log.WarnContext(ctx, "message not sent", "code", code, "reason", reason)
	return jobs.Permanent(cause)
}

// NextRetry waits attempt⁴ seconds (River's own curve: 1 s, 16 s, 81 s…,
// about 15 hours over the job's 12 attempts), or longer when the provider
// asked for it (Retry-After, or the pair rate limit's 6 s).
func (s *Sender) NextRetry(job *river.Job[SendMessageArgs]) time.Time {
	n := min(job.Attempt, 20)
	d := min(time.Duration(n*n*n*n)*time.Second, 6*time.Hour)
	if v, ok := s.waits.LoadAndDelete(job.ID); ok {
		d = max(d, v.(time.Duration))
	}
	return s.Store.Clock().Now().Add(d)
}

package channel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/stage"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/usage"
)

// SendStage sends queued outbound messages in batches. The messages are
// its state: a turn claims up to Batch ready ones under a lease (one
// statement), loads their conversations, channels and template budgets
// (one statement each), refuses what the 24-hour rule or a budget forbids,
// marks the rest as being sent with a compare-and-swap on its claim (one
// statement), calls the providers concurrently, and records every outcome
// in one transaction. Retries wait in the row (send_next_at); an expired
// lease makes a message ready again for any process.
type SendStage struct {
	Sender *Sender
	// Batch is how many messages a turn takes (default 64); Concurrency how
	// many provider calls run at once (default 16); the per-number rate
	// limiter still paces each number.
	Batch, Concurrency int
	// Lease is how long a claim holds (default 10 s): a message whose
	// holder died is sent again by anyone after it (see StatusWait).
	Lease time.Duration
	// MaxAttempts is how many attempts a retryable failure gets before the
	// message fails with retries_exhausted (default 12).
	MaxAttempts int
	// Poll bounds how late a due retry or an expired lease is noticed.
	Poll time.Duration

	loop *stage.Loop
}

// DefaultSendLease is a claim's lease: longer than one provider call, short
// enough that a crash delays its messages by seconds.
const DefaultSendLease = 10 * time.Second

// Loop returns the stage's loop (built on first use).
func (st *SendStage) Loop() *stage.Loop {
	if st.loop == nil {
		st.loop = stage.New("send", st.batch(), st.Poll, st.Turn, st.Sender.Log)
	}
	return st.loop
}

// Wake asks for a turn soon, e.g. after a commit that queued messages.
func (st *SendStage) Wake() { st.Loop().Wake() }

// Run sends until ctx ends.
func (st *SendStage) Run(ctx context.Context) { st.Loop().Run(ctx) }

func (st *SendStage) batch() int {
	if st.Batch <= 0 {
		return 64
	}
	return st.Batch
}

func (st *SendStage) lease() time.Duration {
	if st.Lease <= 0 {
		return DefaultSendLease
	}
	return st.Lease
}

// work is one claimed message on its way through a turn.
type work struct {
	claim store.SendClaim
	conv  parley.Conversation
	ch    parley.Channel
	send  bool
	out   store.SendOutcome
	// events to log with the outcome, when it changes the message.
	events []pendingEvent
	// template: an accepted send is charged to the tenant's budget.
	template bool
}

type pendingEvent struct {
	name    string
	payload event.Payload
}

// Turn claims one batch, sends it and records it; it returns how many
// messages it claimed.
func (st *SendStage) Turn(ctx context.Context) (int, error) {
	s := st.Sender
	token := newToken()
	// Taken before the claim, on the store's clock: the rate limiter and
	// the lease read that clock too.
	claimedAt := s.Store.Clock().Now()
	claims, err := s.Store.ClaimSends(ctx, token, st.batch(), st.lease())
	if err != nil || len(claims) == 0 {
		return 0, err
	}
	ws, err := st.prepare(ctx, claims)
	if err != nil {
		return len(claims), err // the leases run out; the messages are ready again
	}

	var ids []string
	for _, w := range ws {
		if w.send {
			ids = append(ids, w.claim.Message.ID)
		}
	}
	marked, err := s.Store.MarkSends(ctx, token, ids)
	if err != nil {
		return len(claims), err
	}
	// Leave the provider call before the lease ends, so that whoever takes
	// the message next finds either our provider id or our mark.
	left := st.lease() - time.Second - s.Store.Clock().Now().Sub(claimedAt)
	sendCtx, cancel := context.WithTimeout(ctx, left)
	defer cancel()
	conc := st.Concurrency
	if conc <= 0 {
		conc = 16
	}
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for _, w := range ws {
		if !w.send {
			continue
		}
		if !marked[w.claim.Message.ID] {
			// Settled meanwhile (a status arrived) or our claim is gone:
			// someone else decides; we must not send.
			w.send = false
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			st.sendOne(sendCtx, w)
		}()
	}
	wg.Wait()
	return len(claims), st.record(ctx, token, ws)
}

// prepare loads what the batch needs and decides, for each message,
// whether it goes now or what its outcome is.
func (st *SendStage) prepare(ctx context.Context, claims []store.SendClaim) ([]*work, error) {
	s := st.Sender
	r := s.Store.Read()
	convIDs, chIDs, tenants := set(), set(), set()
	for _, c := range claims {
		convIDs.add(c.Message.ConversationID)
		if c.Message.ChannelID != "" {
			chIDs.add(c.Message.ChannelID)
		}
		if c.Message.Template != nil {
			tenants.add(c.Message.TenantID)
		}
	}
	convs, err := r.ConversationsByID(ctx, convIDs.list)
	if err != nil {
		return nil, err
	}
	for _, c := range claims {
		if c.Message.ChannelID == "" {
			chIDs.add(convs[c.Message.ConversationID].ChannelID)
		}
	}
	chans, err := r.ChannelsByID(ctx, chIDs.list)
	if err != nil {
		return nil, err
	}
	var rooms map[string]store.TemplateRoom
	var month string
	if s.Usage != nil && len(tenants.list) > 0 {
		if rooms, month, err = r.TemplateRooms(ctx, tenants.list); err != nil {
			return nil, err
		}
	}
	now := s.Store.Clock().Now()
	provs := s.providers()
	ws := make([]*work, 0, len(claims))
	for _, c := range claims {
		m := c.Message
		w := &work{claim: c, out: store.SendOutcome{TenantID: m.TenantID, ID: m.ID}}
		ws = append(ws, w)
		w.conv = convs[m.ConversationID]
		chID := m.ChannelID
		if chID == "" {
			chID = w.conv.ChannelID
		}
		ch, ok := chans[chID]
		if !ok || ch.TenantID != m.TenantID || w.conv.TenantID != m.TenantID {
			w.fail(CodeNoChannel, "the conversation has no channel to send on")
			continue
		}
		w.ch = ch
		if _, ok := provs[ch.Type]; !ok {
			w.fail(CodeNoChannel, fmt.Sprintf("channel type %q cannot send WhatsApp messages", ch.Type))
			continue
		}
		if err := CheckWindow(ch.Type, w.conv, m, now); err != nil {
			w.fail(CodeOutsideWindow, err.Error())
			continue
		}
		if m.Template != nil {
			if room, ok := rooms[m.TenantID]; ok && room.Limited {
				if room.Used >= room.Limit {
					be := fmt.Sprintf("the tenant's template budget for %s is spent (%d of %d)", month, room.Used, room.Limit)
					w.fail(CodeBudgetReached, be)
					w.events = append(w.events, pendingEvent{event.BudgetReached, event.BudgetReachedPayload{
						Budget: usage.KindTemplateSends, Month: month, Used: room.Used, Limit: room.Limit, MessageID: m.ID, Outcome: "message_failed"}})
					continue
				}
				// Later messages of the batch see this one counted.
				room.Used++
				rooms[m.TenantID] = room
			}
			w.template = true
		}
		if c.MarkedAt != nil {
			if wait := st.statusWait(ch); wait > 0 && now.Before(c.MarkedAt.Add(wait)) {
				// An earlier holder called the provider and recorded nothing:
				// its status webhook may still bring the provider id.
				s.Log.InfoContext(ctx, "an earlier attempt may have reached the provider: waiting for its status before sending again",
					"tenant_id", m.TenantID, "conversation_id", m.ConversationID, "message_id", m.ID, "earlier_started_at", *c.MarkedAt)
				w.out.NextAt = c.MarkedAt.Add(wait)
				continue
			}
		}
		w.send = true
	}
	return ws, nil
}

// statusWait is how long after a lost attempt a message waits for that
// attempt's status webhook before it is sent again; 0 when no status will
// come (Twilio without PARLEY_PUBLIC_URL).
func (st *SendStage) statusWait(ch parley.Channel) time.Duration {
	if r, ok := st.Sender.providers()[ch.Type].(StatusReporter); ok && !r.ReportsStatuses(ch) {
		return 0
	}
	if st.Sender.StatusWait > 0 {
		return st.Sender.StatusWait
	}
	return DefaultStatusWait
}

func (w *work) fail(code, reason string) {
	w.out.Failed, w.out.ErrorCode, w.out.Reason = true, code, reason
	w.events = append(w.events, pendingEvent{event.MessageSendFailed, event.MessageStatusPayload{
		MessageID: w.claim.Message.ID, ChannelID: w.claim.Message.ChannelID, ErrorCode: code, ErrorReason: reason, Source: "send"}})
}

// sendOne calls the provider for one marked message and turns its answer
// into the message's outcome.
func (st *SendStage) sendOne(ctx context.Context, w *work) {
	s := st.Sender
	m := w.claim.Message
	p := s.providers()[w.ch.Type]
	id, err := p.Send(ctx, w.ch, w.conv, m)
	if err == nil {
		w.out.ProviderID = id
		w.events = append(w.events, pendingEvent{event.MessageStatusChanged,
			event.MessageStatusPayload{MessageID: m.ID, ChannelID: w.ch.ID, ChannelMessageID: id, Status: parley.StatusSent}})
		return
	}
	w.template = false
	attempt := w.claim.Attempts + 1
	w.out.Counted = true
	// The provider answered no, or was never reached: the next attempt
	// need not wait for a status.
	w.out.ClearMark = !maybeDelivered(err)
	f, ok := classify(p, err)
	switch {
	case ok && !f.Retryable:
		w.fail(f.Code, f.Reason)
		return
	case attempt >= st.maxAttempts():
		reason := err.Error()
		if ok {
			reason = f.Reason
		}
		w.fail(CodeGaveUp, fmt.Sprintf("gave up after %d attempts: %s", attempt, reason))
		return
	}
	d := backoff(attempt)
	if ok {
		d = max(d, f.Wait)
	}
	w.out.NextAt = s.Store.Clock().Now().Add(d)
	s.Log.WarnContext(ctx, "send failed; will retry", "tenant_id", m.TenantID, "conversation_id", m.ConversationID,
		"message_id", m.ID, "attempt", attempt, "wait", d, "err", err)
}

func (st *SendStage) maxAttempts() int {
	if st.MaxAttempts <= 0 {
		return 12
	}
	return st.MaxAttempts
}

// backoff waits attempt⁴ seconds (1 s, 16 s, 81 s…, about 15 hours over 12
// attempts), at most 6 hours.
func backoff(attempt int) time.Duration {
	n := min(attempt, 20)
	return min(time.Duration(n*n*n*n)*time.Second, 6*time.Hour)
}

// record commits every outcome of the batch in one transaction.
func (st *SendStage) record(ctx context.Context, token string, ws []*work) error {
	s := st.Sender
	// Sent messages are with the provider: recording them must not die
	// with the caller's context (shutdown).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	// A status webhook for one of these messages may lock its row while
	// this transaction holds another's: PostgreSQL then aborts one of the
	// two, and this one is safe to run again.
	err := s.Store.InTxRetrying(ctx, 3, func(q *store.Queries) error {
		for _, w := range ws {
			if !w.send && !w.out.Failed && w.out.NextAt.IsZero() {
				continue // not ours to record (no mark); its lease runs out
			}
			changed, err := q.RecordSend(ctx, token, w.out)
			if err != nil {
				return err
			}
			if !changed {
				continue
			}
			m := w.claim.Message
			for _, e := range w.events {
				if err := q.AppendEvent(ctx, m.TenantID, m.ConversationID, e.name, e.payload); err != nil {
					return err
				}
			}
			if w.template && w.out.ProviderID != "" && s.Usage != nil {
				if err := s.Usage.CountTemplate(ctx, q, m.TenantID); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		// Sent messages keep their marks: whoever takes them next waits
		// for their status webhooks instead of sending again.
		s.Log.ErrorContext(ctx, "send outcomes not recorded; the messages are retried after their lease", "messages", len(ws), "err", err)
		return err
	}
	for _, w := range ws {
		m := w.claim.Message
		switch {
		case w.out.ProviderID != "":
			s.Log.InfoContext(ctx, "message sent", "tenant_id", m.TenantID, "conversation_id", m.ConversationID, "message_id", m.ID,
				"channel_id", w.ch.ID, "channel_message_id", w.out.ProviderID)
		case w.out.Failed:
			s.Log.WarnContext(ctx, "message not sent", "tenant_id", m.TenantID, "conversation_id", m.ConversationID, "message_id", m.ID,
				"code", w.out.ErrorCode, "reason", w.out.Reason)
		}
	}
	return nil
}

func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "s." + hex.EncodeToString(b)
}

type idSet struct {
	seen map[string]bool
	list []string
}

func set() *idSet { return &idSet{seen: map[string]bool{}} }

func (s *idSet) add(id string) {
	if id != "" && !s.seen[id] {
		s.seen[id] = true
		s.list = append(s.list, id)
	}
}

package conversation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/llm"
	"github.com/parleyhq/parley/stage"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/usage"
)

// Modes of an AI agent answer, as logged in AI Agent Answer Generated.
const (
	ModeLLM      = "llm"      // the model answered
	ModeOffline  = "offline"  // no LLM configured: the best knowledge passage, or a ticket
	ModeFallback = "fallback" // the model failed: a holding reply and a ticket
)

// maxToolRounds bounds how often the model may call tools before answering.
const maxToolRounds = 3

// errSkip ends an answer without a change: someone else answers, or nobody.
var errSkip = errors.New("nothing to answer")

// AIAgentWorker returns the worker of the Generate AI Agent Answer job,
// kept for jobs an older version queued: it hands the message to the
// answer stage (QueueAnswer) and wakes it.
func (s *Service) AIAgentWorker() river.Worker[event.GenerateAIAgentAnswerArgs] {
	return &aiAgent{s: s}
}

type aiAgent struct {
	river.WorkerDefaults[event.GenerateAIAgentAnswerArgs]
	s *Service
}

func (s *Service) answerBudget() time.Duration {
	if s.AnswerBudget > 0 {
		return s.AnswerBudget
	}
	return 2 * time.Minute
}

func (w *aiAgent) Work(ctx context.Context, job *river.Job[event.GenerateAIAgentAnswerArgs]) error {
	a := job.Args
	return w.s.Store.InTx(ctx, func(q *store.Queries) error {
		return w.s.queueAnswer(ctx, q, a.TenantID, a.ConversationID, a.MessageID)
	})
}

// queueAnswer asks the answer stage, in q's transaction, to answer
// messageID, and wakes it once that commits.
func (s *Service) queueAnswer(ctx context.Context, q *store.Queries, tenantID, conversationID, messageID string) error {
	if err := q.QueueAnswer(ctx, tenantID, conversationID, messageID); err != nil {
		return fmt.Errorf("queue %s: %w", event.GenerateAIAgentAnswer, err)
	}
	q.AfterCommit(ctx, func(context.Context) { s.Answers().Wake() })
	return nil
}

// Answers is the answer stage's loop: run it (Run) in every serving
// process. The commits that queue answers wake it.
func (s *Service) Answers() *stage.Loop {
	s.answersOnce.Do(func() {
		s.answers = stage.New("answer", s.answerBatch(), 0, s.answerTurn, s.log())
	})
	return s.answers
}

func (s *Service) answerBatch() int {
	if s.AnswerBatch > 0 {
		return s.AnswerBatch
	}
	return 32
}

func (s *Service) answerLease() time.Duration {
	if s.AnswerLease > 0 {
		return s.AnswerLease
	}
	return 10 * time.Second
}

// maxAnswerAttempts is how often a conversation's answer is claimed and
// fails (not the model: that ends in a holding reply; the database, or a
// process that dies on it) before the stage gives up on it.
const maxAnswerAttempts = 8

// draft is one claimed answer, worked out of any transaction.
type draft struct {
	a      event.GenerateAIAgentAnswerArgs
	log    *slog.Logger
	skip   error // errSkip: nothing to answer
	err    error // failed: left under its lease, tried again after it
	out    event.AIAgentAnswerGeneratedPayload
	budget *event.BudgetReachedPayload
	tries  int
	phone  string // the contact's, to lock at commit
	// state is the answer state read for the whole batch before drafting
	// (found false: the conversation is gone).
	state store.AnswerState
	found bool
	// tenant is read once per tenant of the batch.
	tenant *tenantContext
}

// answerTurn claims a batch of conversations to answer and hands it to a
// goroutine, so that the next batch is claimed while the model thinks about
// this one: at most AnswerConcurrency answers are in flight per process.
// The batch's goroutine asks the model for all its answers at once,
// keeping their leases while it thinks, and commits them in one
// transaction (answerBatchOf).
//
// Several messages before an answer: the queue holds the latest, which is
// answered with all of them in view (history and knowledge query) and
// marks the earlier ones answered (superseded). A message that arrives
// while the model is thinking makes the answer stale: it is dropped at
// commit and the newer message is answered instead.
func (s *Service) answerTurn(ctx context.Context) (int, error) {
	slots := s.answerSlots()
	n := min(s.answerBatch(), cap(slots)-len(slots))
	if n <= 0 {
		return 0, nil // all busy: a finishing batch wakes the loop
	}
	claim := store.NewClaim()
	rows, err := s.Store.ClaimAnswers(ctx, claim, n, s.answerLease())
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	// Only this loop takes slots, so these never block.
	for range rows {
		slots <- struct{}{}
	}
	s.inFlight.Add(1)
	// The batch outlives a stopping loop: WaitAnswers lets it finish, or
	// cancels it when the shutdown runs out of time.
	ctx = s.batchContext()
	go func() {
		defer s.inFlight.Done()
		defer s.Answers().Wake() // slots are free again
		defer func() {
			for range rows {
				<-slots
			}
		}()
		s.answerBatchOf(ctx, claim, rows)
	}()
	return len(rows), nil
}

// answerSlots bounds the answers in flight (AnswerConcurrency, default 64).
func (s *Service) answerSlots() chan struct{} {
	s.slotsOnce.Do(s.initSlots)
	return s.slots
}

func (s *Service) initSlots() {
	n := s.AnswerConcurrency
	if n <= 0 {
		n = 64
	}
	s.slots = make(chan struct{}, n)
	s.batchCtx, s.cancelBatches = context.WithCancel(context.Background())
}

// batchContext is the answer batches' context, cancelled by WaitAnswers
// when its patience runs out.
func (s *Service) batchContext() context.Context {
	s.slotsOnce.Do(s.initSlots)
	return s.batchCtx
}

// WaitAnswers lets the answer batches in flight finish, after the answer
// loop has stopped, until ctx ends; then it cancels them (their leases
// hand them to the next process) and waits for them to return.
func (s *Service) WaitAnswers(ctx context.Context) {
	s.slotsOnce.Do(s.initSlots)
	done := make(chan struct{})
	go func() { s.inFlight.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancelBatches()
		<-done
	}
}

// answerBatchOf works and commits one claimed batch.
func (s *Service) answerBatchOf(ctx context.Context, claim string, rows []store.ToAnswer) {
	stop := s.keepLeases(ctx, claim)
	drafts := make([]draft, len(rows))
	var wg sync.WaitGroup
	keys := make([]store.AnswerKey, len(rows))
	for i, r := range rows {
		keys[i] = store.AnswerKey{TenantID: r.TenantID, ConversationID: r.ConversationID, MessageID: r.MessageID}
	}
	// What still needs answering, for the whole batch in one read, and
	// each tenant's name, settings and persona once.
	states, stateErr := s.Store.Read().AnswerStates(ctx, keys)
	tenants := map[string]*tenantContext{}
	for _, r := range rows {
		if _, ok := tenants[r.TenantID]; ok || stateErr != nil {
			continue
		}
		tc, err := readTenantContext(ctx, s.Store.Read(), r.TenantID)
		if err != nil {
			stateErr = err
			continue
		}
		tenants[r.TenantID] = &tc
	}
	for i, r := range rows {
		a := event.GenerateAIAgentAnswerArgs{TenantID: r.TenantID, ConversationID: r.ConversationID, MessageID: r.MessageID}
		drafts[i] = draft{a: a, tries: r.Attempts,
			log: s.log().With("tenant_id", a.TenantID, "conversation_id", a.ConversationID, "message_id", a.MessageID)}
		drafts[i].state, drafts[i].found = states[a.ConversationID]
		drafts[i].tenant = tenants[a.TenantID]
		if stateErr != nil {
			drafts[i].err = stateErr
			continue
		}
		wg.Add(1)
		go func(d *draft) {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil { // a bug must not take the process down
					d.err = fmt.Errorf("panic writing an answer: %v\n%s", p, debug.Stack())
				}
			}()
			s.draft(ctx, d)
		}(&drafts[i])
	}
	wg.Wait()
	stop()
	if err := s.commitDrafts(ctx, claim, drafts); err != nil && len(drafts) > 1 && ctx.Err() == nil {
		s.log().WarnContext(ctx, "answer batch commit failed; committing its answers one by one", "answers", len(drafts), "err", err)
		for i := range drafts {
			if err := s.commitDrafts(ctx, claim, drafts[i:i+1]); err != nil {
				drafts[i].log.WarnContext(ctx, "answer not committed; tried again after its lease", "err", err)
			}
		}
	} else if err != nil {
		if ctx.Err() == nil {
			s.log().WarnContext(ctx, "answer commit failed; tried again after the lease", "answers", len(drafts), "err", err)
		}
		return
	}
	for _, d := range drafts {
		if d.err == nil || ctx.Err() != nil {
			continue
		}
		if d.tries < maxAnswerAttempts {
			d.log.WarnContext(ctx, "answer failed; tried again after its lease", "attempts", d.tries, "err", d.err)
			continue
		}
		d.log.ErrorContext(ctx, "answer given up after repeated failures", "attempts", d.tries, "err", d.err)
		if err := s.Store.DoneAnswers(ctx, claim, []string{d.a.ConversationID}); err != nil {
			d.log.WarnContext(ctx, "could not drop the failed answer", "err", err)
		}
	}
}

// keepLeases renews the claim's leases while the batch is worked (a slow
// model must not let another process start the same answers); the returned
// func stops it.
func (s *Service) keepLeases(ctx context.Context, claim string) func() {
	lease := s.answerLease()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := s.Store.RenewAnswers(ctx, claim, lease); err != nil {
					s.log().WarnContext(ctx, "could not renew answer leases", "err", err)
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done); <-stopped })
	}
}

// draft works out one answer: what to answer (reads), and the model's
// answer, the offline answer, or a holding reply.
func (s *Service) draft(ctx context.Context, d *draft) {
	a := d.a
	read := s.Store.Read()
	conv, err := stillToAnswer(d.state, d.found, a)
	if errors.Is(err, errSkip) {
		d.skip = err
		return
	}
	if err != nil {
		d.err = err
		return
	}
	d.phone = conv.ContactPhone
	t, err := s.gather(ctx, read, conv, parley.Message{ID: a.MessageID}, d.tenant)
	if err != nil {
		d.err = err
		return
	}
	msg := t.message

	out := event.AIAgentAnswerGeneratedPayload{MessageID: msg.ID, Documents: t.documentIDs()}
	switch {
	case s.LLM == nil:
		offline(&out, t, "offline")
	default:
		res, err := s.ask(parley.WithTenant(ctx, a.TenantID), t)
		if ctx.Err() != nil {
			d.err = fmt.Errorf("answer interrupted: %w", ctx.Err()) // retried; nothing was sent
			return
		}
		var be *usage.BudgetError
		if errors.As(err, &be) && errors.Is(err, llm.ErrBudgetReached) {
			// The operator's limit, not a fault: answer as if no LLM were
			// configured, and say why in the conversation's log.
			d.log.WarnContext(ctx, "token budget reached; answering offline", "used", be.Used, "limit", be.Limit, "month", be.Month)
			offline(&out, t, "offline (token budget reached)")
			d.budget = &event.BudgetReachedPayload{Budget: be.Kind, Month: be.Month, Used: be.Used, Limit: be.Limit,
				MessageID: msg.ID, Outcome: "answered_offline"}
		} else if err != nil {
			d.log.WarnContext(ctx, "LLM failed; sending a holding reply and opening a ticket", "err", err)
			out.Mode, out.OpenTicket, out.Error = ModeFallback, true, err.Error()
			out.Reason = "the AI agent is unavailable: " + faultName(err)
		} else {
			out.Mode, out.Answer, out.OpenTicket, out.Reason = ModeLLM, res.Answer, res.OpenTicket, res.Reason
		}
	}
	if out.OpenTicket && out.Answer == "" {
		out.Answer = holdingReply(conv.Language)
	}
	if out.Answer == "" {
		// A model that says nothing and does not escalate still leaves a
		// customer waiting: escalate for it.
		out.OpenTicket, out.Answer = true, holdingReply(conv.Language)
		out.Reason = "the AI agent gave an empty answer"
	}
	for _, m := range t.pending {
		if m.ID != msg.ID {
			out.Answers = append(out.Answers, m.ID)
		}
	}
	d.out = out
}

// commitDrafts commits the drafts' answers in one transaction and removes
// the conversations this claim still holds from the queue: answered, or
// nothing left to answer. A draft that failed stays under its lease.
func (s *Service) commitDrafts(ctx context.Context, claim string, drafts []draft) error {
	var answered []*draft
	err := s.Store.InTx(ctx, func(q *store.Queries) error {
		answered = answered[:0]
		// The contacts first, as the receive stage does: the two stages
		// write the same conversations.
		var locks [][2]string
		for _, d := range drafts {
			if d.err == nil && d.skip == nil {
				locks = append(locks, [2]string{d.a.TenantID, d.phone})
			}
		}
		if err := q.LockContacts(ctx, locks); err != nil {
			return err
		}
		// Read again under the locks: the contact may have written, or a
		// human taken over, while the model thought.
		var keys []store.AnswerKey
		for _, d := range drafts {
			if d.err == nil && d.skip == nil {
				keys = append(keys, store.AnswerKey{TenantID: d.a.TenantID, ConversationID: d.a.ConversationID, MessageID: d.a.MessageID})
			}
		}
		states, err := q.AnswerStates(ctx, keys)
		if err != nil {
			return err
		}
		var done []string
		for i := range drafts {
			d := &drafts[i]
			switch {
			case d.err != nil:
				continue
			case d.skip != nil:
				d.log.DebugContext(ctx, "no answer needed", "why", d.skip)
				done = append(done, d.a.ConversationID)
				continue
			}
			st, found := states[d.a.ConversationID]
			err := s.commitAnswer(ctx, q, d.a, d.out, d.budget, st, found)
			if errors.Is(err, errSkip) {
				d.log.InfoContext(ctx, "answer dropped", "why", err)
				done = append(done, d.a.ConversationID)
				continue
			}
			if err != nil {
				return err
			}
			done = append(done, d.a.ConversationID)
			answered = append(answered, d)
		}
		return q.DoneAnswers(ctx, claim, done)
	})
	if errors.Is(err, store.ErrAlreadyAnswered) && len(drafts) == 1 {
		drafts[0].log.InfoContext(ctx, "answer dropped", "why", err)
		return s.Store.DoneAnswers(ctx, claim, []string{drafts[0].a.ConversationID})
	}
	if err != nil {
		return err
	}
	for _, d := range answered {
		d.log.InfoContext(ctx, "AI agent answered", "mode", d.out.Mode, "open_ticket", d.out.OpenTicket)
	}
	return nil
}

// offline fills out as the no-LLM mode answers: the best knowledge
// passage when it covers the question, else a ticket. why starts the reason.
func offline(out *event.AIAgentAnswerGeneratedPayload, t turn, why string) {
	out.Mode = ModeOffline
	if len(t.passages) > 0 && t.passages[0].Confident() {
		out.Answer = t.passages[0].Excerpt
		out.Reason = fmt.Sprintf("%s: knowledge passage %q covers %.0f%% of the question", why, t.passages[0].Title, 100*t.passages[0].Coverage)
	} else {
		out.OpenTicket = true
		out.Reason = why + ": no knowledge passage answers this confidently"
	}
}

// stillToAnswer reads a message's answer state (store.AnswerStates) and
// says errSkip when it needs no answer from the AI agent any more:
// answered already, superseded by a newer message, held by humans, or
// closed.
func stillToAnswer(st store.AnswerState, found bool, a event.GenerateAIAgentAnswerArgs) (parley.Conversation, error) {
	conv := st.Conversation
	if !found {
		return conv, fmt.Errorf("%w: conversation deleted", errSkip)
	}
	if conv.Status != parley.ConversationOpen {
		return conv, fmt.Errorf("%w: conversation closed", errSkip)
	}
	if st.Answered {
		return conv, fmt.Errorf("%w: already answered", errSkip)
	}
	// A context note (AddContext) is answered unless the contact wrote
	// after it: then their message is answered, the note in view.
	if st.LatestID != a.MessageID && (st.Role != parley.RoleSystem || st.LatestID > a.MessageID) {
		return conv, fmt.Errorf("%w: a newer message will be answered", errSkip)
	}
	if st.TicketOpen {
		return conv, fmt.Errorf("%w: a ticket holds the conversation", errSkip)
	}
	return conv, nil
}

// commitAnswer checks again that the answer is still wanted (it writes
// nothing when not), then logs it, queues it and opens the ticket it asks
// for, and writes the ledger.
func (s *Service) commitAnswer(ctx context.Context, q *store.Queries, a event.GenerateAIAgentAnswerArgs, out event.AIAgentAnswerGeneratedPayload,
	budget *event.BudgetReachedPayload, st store.AnswerState, found bool) error {
	conv, err := stillToAnswer(st, found, a)
	if err != nil {
		return err
	}
	if budget != nil {
		if err := q.AppendEvent(ctx, a.TenantID, a.ConversationID, event.BudgetReached, budget); err != nil {
			return err
		}
	}
	if err := q.AppendEvent(ctx, a.TenantID, a.ConversationID, event.AIAgentAnswerGenerated, out); err != nil {
		return err
	}
	entry := store.Answered{TenantID: a.TenantID, ConversationID: a.ConversationID, MessageID: a.MessageID, Outcome: store.AnsweredByAI}
	sent, err := s.Outbox.Queue(ctx, q, conv, parley.Message{Role: parley.RoleAI, Content: out.Answer,
		Extra: map[string]any{"answers": a.MessageID, "mode": out.Mode}})
	if err != nil {
		return err
	}
	entry.AnswerMessageID = sent.ID
	if out.OpenTicket {
		t, err := s.openTicket(ctx, q, conv, out.Reason, a.MessageID)
		if err != nil {
			return err
		}
		entry.Outcome, entry.TicketID = store.AnsweredByTicket, t.ID
	}
	if err := q.MarkAnswered(ctx, entry); err != nil {
		return err
	}
	for _, id := range out.Answers {
		if err := q.MarkAnsweredIfNew(ctx, store.Answered{TenantID: a.TenantID, ConversationID: a.ConversationID, MessageID: id,
			Outcome: store.AnsweredSuperseded, AnswerMessageID: sent.ID, TicketID: entry.TicketID}); err != nil {
			return err
		}
	}
	return nil
}

// ask runs the model, with the conversation kind's tools, until it gives a
// structured answer. Everything is bounded by the answer budget.
func (s *Service) ask(ctx context.Context, t turn) (agentOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, s.answerBudget())
	defer cancel()
	tools := s.Tools.For(t.conv.Kind)
	req := t.request(tools)
	schema, err := s.answerSchema()
	if err != nil {
		return agentOutput{}, err
	}
	req.Schema = schema
	for round := 0; ; round++ {
		out, resp, err := llm.CompleteJSON[agentOutput](ctx, s.LLM, req)
		if err != nil {
			return out, err
		}
		if len(resp.ToolCalls) == 0 {
			return out, nil
		}
		if round == maxToolRounds {
			return out, fmt.Errorf("the model kept calling tools after %d rounds", maxToolRounds)
		}
		req.Messages = append(req.Messages, resp.Message())
		for _, call := range resp.ToolCalls {
			result := s.runTool(ctx, tools, t, call)
			req.Messages = append(req.Messages, llm.Message{Role: llm.RoleTool, ToolCallID: call.ID, Content: result})
		}
	}
}

func (s *Service) runTool(ctx context.Context, tools []Tool, t turn, call llm.ToolCall) string {
	tool, ok := find(tools, call.Name)
	if !ok { // the llm package refuses these already; belt and braces
		return "error: no such tool"
	}
	res, err := tool.Run(ctx, ToolCall{Conversation: t.conv, Message: t.message, Arguments: call.Arguments})
	if err != nil {
		s.log().WarnContext(ctx, "tool failed", "tool", call.Name, "tenant_id", t.conv.TenantID, "conversation_id", t.conv.ID, "err", err)
		return "error: " + err.Error()
	}
	return res
}

// answerSchema is built once: reflecting over the type for every answer
// was a few percent of the CPU under load. It is only read afterwards.
func (s *Service) answerSchema() (*llm.Schema, error) {
	s.schemaOnce.Do(func() {
		s.schema, s.schemaErr = llm.SchemaFor[agentOutput]("customer_answer", "The AI agent's answer to the contact, and whether a human should take over.")
	})
	return s.schema, s.schemaErr
}

// faultName says which LLM fault ended the call, for the event log.
func faultName(err error) string {
	switch {
	case errors.Is(err, llm.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, llm.ErrUnavailable):
		return "unavailable (rate limited or server error)"
	case errors.Is(err, llm.ErrInvalidOutput):
		return "invalid output"
	case errors.Is(err, llm.ErrPermanent):
		return "permanent error (configuration)"
	}
	return "error"
}

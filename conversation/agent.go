package conversation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/llm"
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

// errSkip ends a job's transaction without a change: someone else answers.
var errSkip = errors.New("nothing to answer")

// AIAgentWorker returns the worker of the Generate AI Agent Answer job.
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

// Timeout gives the job room for the whole LLM budget and the commit.
func (w *aiAgent) Timeout(*river.Job[event.GenerateAIAgentAnswerArgs]) time.Duration {
	return w.s.answerBudget() + 30*time.Second
}

// Work answers the contact's message once. The answer ledger
// (store.MarkAnswered) is written in the transaction that queues the answer,
// so a retry after that commit finds it and does nothing.
//
// Several messages before an answer: only the job of the latest message
// answers, with all of them in view (history and knowledge query); the
// jobs of the earlier ones find a newer message and stop. A message that
// arrives while the model is thinking makes the answer stale: it is
// dropped at commit and the newer message's job answers instead.
func (w *aiAgent) Work(ctx context.Context, job *river.Job[event.GenerateAIAgentAnswerArgs]) error {
	a := job.Args
	log := w.s.log().With("tenant_id", a.TenantID, "conversation_id", a.ConversationID, "message_id", a.MessageID, "job_id", job.ID)
	return w.s.answer(ctx, log, a, 0, nil)
}

// known is what the routing transaction knew of the message to answer:
// an answer right after it need not read it back.
type known struct {
	conv parley.Conversation
	msg  parley.Message
}

// answerNow answers right after the routing commit (AnswerAfterCommit).
// A failure leaves the answer to the backstop job.
func (s *Service) answerNow(ctx context.Context, a event.GenerateAIAgentAnswerArgs, backstop int64, k known) {
	log := s.log().With("tenant_id", a.TenantID, "conversation_id", a.ConversationID, "message_id", a.MessageID, "backstop_job_id", backstop)
	if err := s.answer(ctx, log, a, backstop, &k); err != nil {
		log.WarnContext(ctx, "answer left to its job", "err", err)
	}
}

// answer answers the contact's message once. The answer ledger
// (store.MarkAnswered) is written in the transaction that queues the answer,
// so a retry after that commit finds it and does nothing. The backstop job,
// when not 0, is deleted in that transaction too.
//
// Several messages before an answer: only the job of the latest message
// answers, with all of them in view (history and knowledge query); the
// jobs of the earlier ones find a newer message and stop. A message that
// arrives while the model is thinking makes the answer stale: it is
// dropped at commit and the newer message's job answers instead.
func (s *Service) answer(ctx context.Context, log *slog.Logger, a event.GenerateAIAgentAnswerArgs, backstop int64, k *known) error {
	var conv parley.Conversation
	var msg parley.Message
	var err error
	if k != nil {
		// Just routed: open, unanswered, the latest, no ticket. The
		// commit checks again.
		conv, msg = k.conv, k.msg
	} else {
		conv, msg, err = s.stillToAnswer(ctx, s.Store.Read(), a)
	}
	if errors.Is(err, errSkip) {
		log.DebugContext(ctx, "no answer needed", "why", err)
		return nil
	}
	if err != nil {
		return err
	}
	t, err := s.gather(ctx, s.Store.Read(), conv, msg)
	if err != nil {
		return err
	}

	out := event.AIAgentAnswerGeneratedPayload{MessageID: msg.ID, Documents: t.documentIDs()}
	var budget *event.BudgetReachedPayload
	switch {
	case s.LLM == nil:
		offline(&out, t, "offline")
	default:
		res, err := s.ask(parley.WithTenant(ctx, a.TenantID), t)
		if ctx.Err() != nil {
			return fmt.Errorf("answer interrupted: %w", ctx.Err()) // retried; nothing was sent
		}
		var be *usage.BudgetError
		if errors.As(err, &be) && errors.Is(err, llm.ErrBudgetReached) {
			// The operator's limit, not a fault: answer as if no LLM were
			// configured, and say why in the conversation's log.
			log.WarnContext(ctx, "token budget reached; answering offline", "used", be.Used, "limit", be.Limit, "month", be.Month)
			offline(&out, t, "offline (token budget reached)")
			budget = &event.BudgetReachedPayload{Budget: be.Kind, Month: be.Month, Used: be.Used, Limit: be.Limit,
				MessageID: msg.ID, Outcome: "answered_offline"}
		} else if err != nil {
			log.WarnContext(ctx, "LLM failed; sending a holding reply and opening a ticket", "err", err)
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

	err = s.Store.InTx(ctx, func(q *store.Queries) error {
		if err := s.Jobs.DeleteTx(ctx, q.Tx(), backstop); err != nil {
			return err
		}
		if budget != nil {
			if _, err := q.AppendEvent(ctx, a.TenantID, a.ConversationID, event.BudgetReached, budget); err != nil {
				return err
			}
		}
		return s.commitAnswer(ctx, q, a, out)
	})
	if errors.Is(err, errSkip) || errors.Is(err, store.ErrAlreadyAnswered) {
		log.InfoContext(ctx, "answer dropped", "why", err)
		if backstop != 0 {
			// Whoever answers instead has its own job: this one has nothing left to do.
			return s.Store.InTx(ctx, func(q *store.Queries) error { return s.Jobs.DeleteTx(ctx, q.Tx(), backstop) })
		}
		return nil
	}
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "AI agent answered", "mode", out.Mode, "open_ticket", out.OpenTicket)
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

// stillToAnswer loads the conversation and message and says errSkip when
// the message needs no answer from the AI agent any more: answered
// already, superseded by a newer message, held by humans, or closed.
func (s *Service) stillToAnswer(ctx context.Context, q *store.Queries, a event.GenerateAIAgentAnswerArgs) (parley.Conversation, parley.Message, error) {
	conv, err := q.GetConversation(ctx, a.TenantID, a.ConversationID)
	if parley.ErrorCode(err) == parley.CodeNotFound {
		return conv, parley.Message{}, fmt.Errorf("%w: conversation deleted", errSkip)
	}
	if err != nil {
		return conv, parley.Message{}, err
	}
	if conv.Status != parley.ConversationOpen {
		return conv, parley.Message{}, fmt.Errorf("%w: conversation closed", errSkip)
	}
	done, err := q.IsAnswered(ctx, a.TenantID, a.MessageID)
	if err != nil {
		return conv, parley.Message{}, err
	}
	if done {
		return conv, parley.Message{}, fmt.Errorf("%w: already answered", errSkip)
	}
	latest, err := q.LatestCustomerMessage(ctx, a.TenantID, a.ConversationID)
	if err != nil && parley.ErrorCode(err) != parley.CodeNotFound {
		return conv, latest, err
	}
	if latest.ID != a.MessageID {
		// A context note (AddContext) is answered unless the contact wrote
		// after it: then their message's job answers, the note in view.
		note, err := q.GetMessage(ctx, a.TenantID, a.MessageID)
		if err != nil {
			return conv, latest, err
		}
		if note.Role != parley.RoleSystem || latest.ID > note.ID {
			return conv, latest, fmt.Errorf("%w: a newer message will be answered", errSkip)
		}
		latest = note
	}
	if _, err := q.OpenTicketFor(ctx, a.TenantID, a.ConversationID); err == nil {
		return conv, latest, fmt.Errorf("%w: a ticket holds the conversation", errSkip)
	} else if parley.ErrorCode(err) != parley.CodeNotFound {
		return conv, latest, err
	}
	return conv, latest, nil
}

// commitAnswer checks again that the answer is still wanted, then logs
// it, queues it and opens the ticket it asks for, and writes the ledger.
func (s *Service) commitAnswer(ctx context.Context, q *store.Queries, a event.GenerateAIAgentAnswerArgs, out event.AIAgentAnswerGeneratedPayload) error {
	conv, _, err := s.stillToAnswer(ctx, q, a)
	if err != nil {
		return err
	}
	if _, err := q.AppendEvent(ctx, a.TenantID, a.ConversationID, event.AIAgentAnswerGenerated, out); err != nil {
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

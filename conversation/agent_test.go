package conversation_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/llm/llmtest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

func TestKnownCustomerGetsTheAIAnswerBuiltFromTheKnowledgeBase(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := start(t, st, options{responder: func(r llmtest.Request) llmtest.Reply {
			return answer("We are open Monday to Friday, 9 to 18.", false, "the opening hours passage answers it")
		}})
		e.document("Opening hours", "We are open Monday to Friday, 9:00 to 18:00. Closed on public holidays.")
		e.document("Refunds", "Refunds go back to the card within 5 working days.")
		ana := e.customer("+5511999990001", "Ana")

		conv := e.receive(ana.Phone, "Hi! What are your opening hours?", ana)
		e.settle()

		out := e.outbound(conv.ID)
		if len(out) != 1 || out[0].Role != parley.RoleAI || out[0].Content != "We are open Monday to Friday, 9 to 18." || out[0].Status != parley.StatusSent {
			t.Fatalf("want one AI answer, sent; got %+v", out)
		}
		reqs := e.llm.Requests()
		if len(reqs) != 1 {
			t.Fatalf("want one LLM request, got %d", len(reqs))
		}
		sys := reqs[0].System()
		if !strings.Contains(sys, "We are open Monday to Friday, 9:00 to 18:00.") {
			t.Errorf("the knowledge passage is not in the prompt:\n%s", sys)
		}
		if !strings.Contains(sys, "Ana") || !strings.Contains(reqs[0].LastUser(), "opening hours") {
			t.Errorf("the prompt lacks the customer or the message:\n%s", reqs[0].Prompt())
		}
		if !reqs[0].HasSchema("customer_answer") {
			t.Error("the request did not ask for the structured answer")
		}
		if len(reqs[0].ToolNames()) != 0 {
			t.Errorf("a customer conversation was offered tools: %v", reqs[0].ToolNames())
		}
		evs := e.events(conv.ID)
		wantOrder(t, names(evs), event.TextMessageReceived, event.TextMessageWithUserInfoReceived, event.GenerateAIAgentAnswer,
			event.AIAgentAnswerGenerated, event.SendTextMessage)
		for _, ev := range evs {
			if ev.Name == event.AIAgentAnswerGenerated && (ev.Payload["open_ticket"] != false || ev.Payload["mode"] != "llm") {
				t.Errorf("AI Agent Answer Generated: %v", ev.Payload)
			}
		}
		if got := e.tickets("?view=all"); len(got) != 0 {
			t.Errorf("no ticket expected, got %+v", got)
		}
	})
}

func TestARetriedJobDoesNotAnswerTwice(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := start(t, st, options{responder: func(llmtest.Request) llmtest.Reply { return answer("Hello!", false, "greeting") }})
		conv := e.receive("+5511999990002", "hello there", nil)
		e.settle()
		if n := len(e.outbound(conv.ID)); n != 1 {
			t.Fatalf("want 1 answer, got %d", n)
		}
		msg, err := st.LatestCustomerMessage(context.Background(), e.tenant.ID, conv.ID)
		if err != nil {
			t.Fatal(err)
		}
		// The same job again, as River runs it after a crash between the
		// commit and the job's completion.
		args := event.GenerateAIAgentAnswerArgs{TenantID: e.tenant.ID, ConversationID: conv.ID, MessageID: msg.ID}
		err = e.svc.AIAgentWorker().Work(context.Background(), &river.Job[event.GenerateAIAgentAnswerArgs]{
			JobRow: &rivertype.JobRow{ID: 424242, Attempt: 2}, Args: args})
		if err != nil {
			t.Fatal(err)
		}
		e.settle()
		if n := len(e.outbound(conv.ID)); n != 1 {
			t.Fatalf("a retried job answered again: %d answers", n)
		}
		if e.llm.Calls() != 1 {
			t.Fatalf("a retried job asked the model again: %d calls", e.llm.Calls())
		}
	})
}

func TestSeveralMessagesBeforeTheAnswerGetOneAnswerForTheLatest(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := start(t, st, options{holdJobs: true, responder: func(llmtest.Request) llmtest.Reply {
			return answer("Refunds take 5 working days.", false, "refund passage")
		}})
		e.document("Refunds", "Refunds go back to the card within 5 working days.")
		phone := "+5511999990003"
		e.receive(phone, "hi", nil)
		e.receive(phone, "I returned my order last week", nil)
		conv := e.receive(phone, "when do I get my refund?", nil)
		e.startJobs()
		e.settle()

		if out := e.outbound(conv.ID); len(out) != 1 {
			t.Fatalf("want one answer for three messages, got %d: %+v", len(out), out)
		}
		reqs := e.llm.Requests()
		if len(reqs) != 1 {
			t.Fatalf("want one LLM call, got %d", len(reqs))
		}
		p := reqs[0].Prompt()
		for _, s := range []string{"hi", "I returned my order last week", "when do I get my refund?", "within 5 working days"} {
			if !strings.Contains(p, s) {
				t.Errorf("prompt lacks %q:\n%s", s, p)
			}
		}
		var generated []parley.Event
		for _, ev := range e.events(conv.ID) {
			if ev.Name == event.AIAgentAnswerGenerated {
				generated = append(generated, ev)
			}
		}
		if len(generated) != 1 {
			t.Fatalf("want one AI Agent Answer Generated, got %d", len(generated))
		}
		if answers, _ := generated[0].Payload["answers"].([]any); len(answers) != 2 {
			t.Errorf("the answer should cover the two earlier messages: %v", generated[0].Payload)
		}
	})
}

func TestEveryLLMFaultEndsWithTheCustomerAnsweredOnce(t *testing.T) {
	t.Parallel()
	bad := func(n int, r llmtest.Reply) []llmtest.Reply {
		out := make([]llmtest.Reply, n)
		for i := range out {
			out[i] = r
		}
		return out
	}
	cases := []struct {
		name  string
		fault []llmtest.Reply
		why   string
	}{
		{"timeout", bad(3, llmtest.Slow()), "timeout"},
		{"rate limited with Retry-After", bad(3, llmtest.RateLimited(2e9)), "unavailable"},
		{"server errors", append(bad(2, llmtest.ServerError(http.StatusBadGateway)), llmtest.ServerError(http.StatusServiceUnavailable)), "unavailable"},
		{"malformed output", bad(3, llmtest.Text("Sure! Our hours are 9 to 5.")), "invalid output"},
		{"schema-violating output", bad(3, llmtest.JSON(map[string]any{"answer": 42, "open_ticket": "maybe"})), "invalid output"},
		{"quota exhausted", bad(1, llmtest.QuotaExceeded()), "permanent"},
		{"connection dropped", bad(3, llmtest.Drop()), "unavailable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T, st *store.Store) {
				e := start(t, st, options{llmTimeout: 300 * time.Millisecond, responder: func(llmtest.Request) llmtest.Reply { return answer("fine", false, "ok") }})
				e.agent("Bea", true)
				e.llm.Enqueue(c.fault...)
				conv := e.receive("+5511999990004", "Where is my order 881?", nil)
				e.settle()

				out := e.outbound(conv.ID)
				if len(out) != 1 || out[0].Role != parley.RoleAI || !strings.Contains(out[0].Content, "A member of our team") {
					t.Fatalf("want exactly one holding reply, got %+v", out)
				}
				tickets := e.tickets("?view=open")
				if len(tickets) != 1 || tickets[0].ConversationID != conv.ID || tickets[0].AgentID == "" {
					t.Fatalf("want one assigned ticket, got %+v", tickets)
				}
				var gen map[string]any
				for _, ev := range e.events(conv.ID) {
					if ev.Name == event.AIAgentAnswerGenerated {
						gen = ev.Payload
					}
				}
				if gen["mode"] != "fallback" || gen["open_ticket"] != true || !strings.Contains(gen["reason"].(string), c.why) {
					t.Errorf("AI Agent Answer Generated: %v", gen)
				}
				if c.name == "rate limited with Retry-After" {
					if w := e.waits.all(); !slices.Equal(w, []time.Duration{2 * time.Second, 2 * time.Second}) {
						t.Errorf("the client should wait the server's Retry-After between attempts, waited %v", w)
					}
				}
				// A later message is answered by the humans, not the AI.
				calls := e.llm.Calls()
				e.receive("+5511999990004", "hello?", nil)
				e.settle()
				if e.llm.Calls() != calls || len(e.outbound(conv.ID)) != 1 {
					t.Error("with the ticket open the AI agent must stay silent")
				}
			})
		})
	}
}

// A message that arrives while the model is writing the answer to the
// previous one makes that answer stale: it is dropped at its commit, and
// the newer message is answered, the earlier one in view. The contact gets
// one answer, the fresh one.
func TestAMessageDuringTheAnswerMakesItStale(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		started, release := make(chan struct{}), make(chan struct{})
		var calls atomic.Int64
		e := start(t, st, options{responder: func(llmtest.Request) llmtest.Reply {
			if calls.Add(1) == 1 {
				close(started)
				<-release
				return answer("Stale answer.", false, "first")
			}
			return answer("Fresh answer.", false, "second")
		}})
		phone := "+5511999990077"
		conv := e.receive(phone, "is my order shipped?", nil)
		<-started
		e.receive(phone, "order number 4411", nil)
		close(release)
		e.settle()

		out := e.outbound(conv.ID)
		if len(out) != 1 || out[0].Content != "Fresh answer." {
			t.Fatalf("want only the fresh answer, got %+v", out)
		}
		reqs := e.llm.Requests()
		if len(reqs) != 2 {
			t.Fatalf("want 2 LLM calls, got %d", len(reqs))
		}
		for _, s := range []string{"is my order shipped?", "order number 4411"} {
			if !strings.Contains(reqs[1].Prompt(), s) {
				t.Errorf("the fresh answer's prompt lacks %q", s)
			}
		}
		generated := 0
		for _, ev := range e.events(conv.ID) {
			if ev.Name == event.AIAgentAnswerGenerated {
				generated++
			}
		}
		if generated != 1 {
			t.Fatalf("%d AI Agent Answer Generated events, want 1", generated)
		}
	})
}

package followup_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/llm/llmtest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

func TestAIWrittenFollowUpReadsTheHistory(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e, fake := newModelEnv(t, engine)
		e.rule(map[string]any{"title": "Win back", "message": "Offer 10% off the sofa they asked about", "generate": true, "delay": "1h"})
		conv := e.customerWrites("+5511999990040", "Do you have the blue velvet sofa?")
		e.agentWrites(conv, "Yes, it is 499€ and ships in a week.")
		draft := llmtest.Text("Still thinking about the blue velvet sofa? It's 10% off this week.")
		fake.Enqueue(draft, draft) // a second for the scheduled request, should it draft too
		e.clk.Advance(time.Hour)
		e.request(conv)

		got := e.followUps(conv)
		if len(got) != 1 || got[0].Content != "Still thinking about the blue velvet sofa? It's 10% off this week." {
			t.Fatalf("follow-ups = %+v", got)
		}
		// The Follow-Up Request scheduled with the agent's message comes
		// due at the same moment as the one asked for here: both may draft
		// (only one is sent, checked above and below), and each reads the
		// history.
		reqs := fake.Requests()
		if len(reqs) == 0 || len(reqs) > 2 {
			t.Fatalf("%d LLM requests, want 1 (2 when the two requests raced)", len(reqs))
		}
		for _, req := range reqs {
			prompt, system := req.Prompt(), req.System()
			for _, want := range []string{"blue velvet sofa", "499€"} {
				if !strings.Contains(prompt, want) {
					t.Errorf("prompt lacks the history %q:\n%s", want, prompt)
				}
			}
			if !strings.Contains(system, "Offer 10% off the sofa") {
				t.Errorf("system prompt lacks the rule's guidance:\n%s", system)
			}
		}
		if sent := e.events(conv, followup.EventSent); len(sent) != 1 || sent[0].Payload["kind"] != "generated" {
			t.Fatalf("sent events = %+v", sent)
		}
	})
}

func TestSurveyAnswersAreRecorded(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		csat := e.rule(map[string]any{"title": "CSAT", "message": "How did we do?", "delay": "30m", "survey": "csat"})
		conv := e.customerWrites("+5511999990050", "Thanks, that solved it")
		e.agentWrites(conv, "Glad to help!")
		e.clk.Advance(30 * time.Minute)
		e.request(conv)
		got := e.followUps(conv)
		if len(got) != 1 || got[0].Type != parley.MessageInteractive || got[0].Content != "How did we do?" {
			t.Fatalf("survey message = %+v", got)
		}
		list, err := channel.InteractiveOf(got[0])
		if err != nil || list == nil || list.ListButton == "" || len(list.Sections) != 1 || len(list.Sections[0].Rows) != 5 {
			t.Fatalf("list = %+v, %v", list, err)
		}
		four := list.Sections[0].Rows[3]
		if four.Title != "Good" {
			t.Fatalf("fourth row = %+v", four)
		}
		// The customer taps "4": WhatsApp sends a list_reply with the row id.
		e.clk.Advance(5 * time.Minute)
		e.inbound("+5511999990050", parley.Message{Type: parley.MessageInteractive, Content: four.Title,
			Extra: map[string]any{"interactive_type": "list_reply", "interactive_id": four.ID}})
		st := e.stats(csat)
		answers, _ := st["survey_answers"].(map[string]any)
		if st["sent"] != 1.0 || st["replied"] != 1.0 || st["response_rate"] != 1.0 || answers["4"] != 1.0 || st["average_score"] != 4.0 {
			t.Fatalf("stats = %v", st)
		}
		if ev := e.events(conv, followup.EventSurveyAnswered); len(ev) != 1 || ev[0].Payload["answer"] != "4" {
			t.Fatalf("answered events = %+v", ev)
		}

		// NPS has eleven choices, more than a list holds: a typed number answers it.
		nps := e.rule(map[string]any{"title": "NPS", "message": "One question:", "delay": "10m", "survey": "nps"})
		e.agentWrites(conv, "Anything else?")
		e.clk.Advance(10 * time.Minute)
		e.request(conv)
		got = e.followUps(conv)
		if len(got) != 2 || !strings.Contains(got[1].Content, "0") || got[1].Extra["survey"] != "nps" {
			t.Fatalf("nps message = %+v", got)
		}
		e.customerWrites("+5511999990050", "9")
		if st := e.stats(nps); st["average_score"] != 9.0 {
			t.Fatalf("nps stats = %v", st)
		}
	})
}

func TestTwoProcessesNeverSendTheSameFollowUpTwice(t *testing.T) {
	t.Parallel()
	storetest.RequirePostgres(t)
	e := newEnv(t, store.Postgres, nil)
	second := apptest.Start(t, store.Postgres, e.clk, fakeClockConfig(func(c *config.Config) { c.DatabaseURL = e.p.Config.DatabaseURL }))
	e.rule(map[string]any{"title": "Nudge", "message": "Still there?", "delay": "30m"})
	var convs []parley.Conversation
	for i := 0; i < 5; i++ {
		conv := e.customerWrites("+551199999006"+string(rune('0'+i)), "Hello")
		e.agentWrites(conv, "Hi!")
		convs = append(convs, conv)
	}
	e.clk.Advance(30 * time.Minute)
	var wg sync.WaitGroup
	for _, conv := range convs {
		for _, p := range []*apptest.Parley{e.p, second, e.p, second} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				requestOn(t, p, e.key, conv.ID)
			}()
		}
	}
	wg.Wait()
	// And the jobs scheduled with the agent messages, on either process.
	waitFor(t, "every scheduled request", func() bool {
		for _, p := range []*apptest.Parley{e.p, second} {
			res, err := p.Jobs.JobList(context.Background(), river.NewJobListParams().Kinds("follow_up_request").
				States(rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateScheduled, rivertype.JobStateRetryable))
			if err != nil || len(res.Jobs) > 0 {
				return false
			}
		}
		return true
	})
	for _, conv := range convs {
		if got := e.followUps(conv); len(got) != 1 {
			t.Errorf("conversation %s got %d follow-ups, want 1", conv.ID, len(got))
		}
		if got := e.events(conv, followup.EventSent); len(got) != 1 {
			t.Errorf("conversation %s logged %d sends, want 1", conv.ID, len(got))
		}
	}
}

// rawRequest is a Follow-Up Request with any payload, to test rejection.
type rawRequest struct{ body string }

func (rawRequest) Kind() string                   { return followup.RequestArgs{}.Kind() }
func (r rawRequest) MarshalJSON() ([]byte, error) { return []byte(r.body), nil }

func TestMalformedRequestIsCancelledWithoutRetry(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		for _, body := range []string{`{"id": "not-a-uuid"}`, `{"id": 42}`, `{}`} {
			res, err := e.p.Jobs.Insert(context.Background(), rawRequest{body}, nil)
			if err != nil {
				t.Fatal(err)
			}
			waitJob(t, e.p, res.Job.ID, rivertype.JobStateCancelled)
			if j, _ := e.p.Jobs.JobGet(context.Background(), res.Job.ID); j.Attempt != 1 {
				t.Errorf("%s: %d attempts, want 1", body, j.Attempt)
			}
		}
		// A well-formed request for a conversation that does not exist ends cleanly.
		res, err := e.p.Jobs.Insert(context.Background(), followup.RequestArgs{ID: "0192f0e0-0000-7000-8000-000000000000"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		waitJob(t, e.p, res.Job.ID, rivertype.JobStateCompleted)
	})
}

func TestScanSweepsUpOverdueConversations(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, nil)
		e.rule(map[string]any{"title": "Nudge", "message": "Still there?", "delay": "30m"})
		conv := e.customerWrites("+5511999990070", "Hello")
		// An agent message whose scheduled request was lost: only the due
		// index knows about it.
		ctx := context.Background()
		if err := e.p.Store.TouchOutbound(ctx, e.tenant.ID, conv.ID, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		if err := e.p.Store.SetFollowUpDue(ctx, e.tenant.ID, conv.ID, e.clk.Now().Add(30*time.Minute)); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(30 * time.Minute)
		if n, err := e.p.FollowUps.Scan(ctx, time.Minute); err != nil || n != 0 {
			t.Fatalf("scan within the grace minute = %d, %v", n, err)
		}
		e.clk.Advance(time.Minute)
		if n, err := e.p.FollowUps.Scan(ctx, time.Minute); err != nil || n != 1 {
			t.Fatalf("scan = %d, %v; want 1", n, err)
		}
		if n, _ := e.p.FollowUps.Scan(ctx, time.Minute); n != 0 {
			t.Fatalf("second scan handed the conversation out again: %d", n)
		}
		waitFor(t, "the swept follow-up", func() bool { return len(e.followUps(conv)) == 1 })
		if due, _ := e.p.Store.FollowUpDue(ctx, conv.ID); due != nil {
			t.Fatalf("still due after the follow-up: %v", due)
		}
	})
}

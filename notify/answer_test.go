package notify_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// Two answers at once to a single-answer notification: exactly one wins,
// the other gets 409 already_answered, the customer gets one answer. On
// SQLite in one process; on PostgreSQL in two processes on one database.
func TestConcurrentAnswersOneWins(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		dsn := storetest.DSN(t, engine)
		a := start(t, options{dsn: dsn})
		b := a
		if engine == store.Postgres {
			b = start(t, options{dsn: dsn, first: a})
		}
		a.staff("Ana", "+5511911110001", parley.StaffAdmin)
		conv := a.customerConv("+5511999990007", ago(time.Hour))
		for round := range 3 {
			n := a.raise(conv.ID, parley.NotificationQuestion, map[string]string{"question": "Question " + string(rune('A'+round))})
			var wg sync.WaitGroup
			results := make([]apptest.Response, 6)
			for i := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p := a
					if i%2 == 1 {
						p = b
					}
					results[i] = p.answer(n.ID, map[string]any{"answer": "answer " + string(rune('a'+i))})
				}()
			}
			wg.Wait()
			won := 0
			for _, r := range results {
				switch {
				case r.Status == http.StatusOK:
					won++
				case r.Status == http.StatusConflict && r.ErrorCode() == "already_answered" && strings.Contains(string(r.Body), "already answered"):
				default:
					t.Fatalf("an answer got %d %s", r.Status, r.Body)
				}
			}
			if won != 1 {
				t.Fatalf("round %d: %d answers won, want 1", round, won)
			}
			a.sentTo(conv.ContactPhone, round+1)
			if got := a.get(n.ID); got.Answers != 1 || got.Delivered != 1 {
				t.Fatalf("round %d: %s", round, mustJSON(got))
			}
		}
	})
}

// Bad answers are refused with a machine-readable code and change nothing.
func TestBadAnswersAreRefused(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		conv := e.customerConv("+5511999990008", ago(time.Hour))
		q := e.raise(conv.ID, parley.NotificationQuestion, map[string]string{"question": "Do you deliver on Sundays?"})
		s := e.raise(conv.ID, parley.NotificationSupport, map[string]string{"support_request_reason": "Refund please"})
		long := strings.Repeat("長", 4001)
		cases := []struct {
			name   string
			id     string
			body   any
			status int
			code   string
			field  string
		}{
			{"empty answer", q.ID, map[string]any{"answer": ""}, 422, "validation_failed", "answer"},
			{"blank answer", q.ID, map[string]any{"answer": "  \n\t "}, 422, "validation_failed", "answer"},
			{"no answer", q.ID, map[string]any{}, 422, "validation_failed", "answer"},
			{"a number", q.ID, map[string]any{"answer": 42}, 422, "validation_failed", "answer"},
			{"an unknown field", q.ID, map[string]any{"answer": "yes", "mood": "happy"}, 422, "validation_failed", "mood"},
			{"the other type's field", q.ID, map[string]any{"agent_response_to_customer": "yes"}, 422, "validation_failed", "answer"},
			{"too long", q.ID, map[string]any{"answer": long}, 422, "validation_failed", "answer"},
			{"support without the customer text", s.ID, map[string]any{"resolution_notes": "refunded"}, 422, "validation_failed", "agent_response_to_customer"},
			{"not JSON", q.ID, `{"answer":`, 400, "invalid_request", ""},
			{"unknown id", "01900000-0000-7000-8000-000000000000", map[string]any{"answer": "yes"}, 404, "not_found", ""},
			{"not an id", "NOTIF_1", map[string]any{"answer": "yes"}, 404, "not_found", ""},
		}
		for _, c := range cases {
			r := e.answer(c.id, c.body)
			var body struct {
				Error struct{ Code, Field, Message string }
			}
			_ = jsonUnmarshal(r.Body, &body)
			if r.Status != c.status || body.Error.Code != c.code || (c.field != "" && body.Error.Field != c.field) {
				t.Errorf("%s: %d %s, want %d %s field %q", c.name, r.Status, r.Body, c.status, c.code, c.field)
			}
		}
		for _, id := range []string{q.ID, s.ID} {
			if n := e.get(id); n.Status != parley.NotificationRequested || n.Answers != 0 {
				t.Errorf("a refused answer changed %s", mustJSON(n))
			}
			var a notifyAnswerable
			e.Do(http.MethodGet, "/api/notifications/"+id+"/answerable", e.key, nil).JSON(t, &a)
			if !a.Answerable {
				t.Errorf("%s is not answerable after refused answers", id)
			}
		}
		for _, path := range []string{"/api/notifications/01900000-0000-7000-8000-000000000000", "/api/notifications/01900000-0000-7000-8000-000000000000/answerable", "/api/notifications/x"} {
			if r := e.Do(http.MethodGet, path, e.key, nil); r.Status != 404 || r.ErrorCode() != "not_found" {
				t.Errorf("GET %s = %d %s", path, r.Status, r.Body)
			}
		}
		// Raising checks its input too.
		for _, c := range []struct {
			body   map[string]any
			status int
			field  string
		}{
			{map[string]any{"type": "user_complaint", "conversation_id": conv.ID, "context": map[string]string{"question": "x"}}, 422, "type"},
			{map[string]any{"type": "user_question_request", "conversation_id": conv.ID, "context": map[string]string{"question": " "}}, 422, "context.question"},
			{map[string]any{"type": "user_question_request", "conversation_id": conv.ID, "context": map[string]string{"reason": "x"}}, 422, "context.question"},
			{map[string]any{"type": "user_support_request", "conversation_id": conv.ID, "context": map[string]string{}}, 422, "context.support_request_reason"},
			{map[string]any{"type": "user_question_request", "conversation_id": "01900000-0000-7000-8000-000000000000", "context": map[string]string{"question": "x"}}, 404, ""},
		} {
			r := e.Do(http.MethodPost, "/api/notifications", e.key, c.body)
			var body struct{ Error struct{ Field string } }
			_ = jsonUnmarshal(r.Body, &body)
			if r.Status != c.status || body.Error.Field != c.field {
				t.Errorf("raise %v = %d %s, want %d field %q", c.body, r.Status, r.Body, c.status, c.field)
			}
		}
		e.settle()
		var list struct{ Items []parley.Notification }
		e.Do(http.MethodGet, "/api/notifications", e.key, nil).JSON(t, &list)
		if len(list.Items) != 2 {
			t.Fatalf("%d notifications after refused raises, want 2", len(list.Items))
		}
		for _, bad := range []string{"?status=closed", "?type=user_complaint"} {
			if r := e.Do(http.MethodGet, "/api/notifications"+bad, e.key, nil); r.Status != 422 {
				t.Errorf("list%s = %d", bad, r.Status)
			}
		}
	})
}

// Long and non-Latin answers are kept exactly; the template parameter is
// cut to what WhatsApp takes, a free-form reply is sent whole.
func TestLongAndNonLatinAnswers(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		e.staff("Ana", "+5511911110001", parley.StaffAdmin)
		long := strings.Repeat("配送は五日です。", 500) // 4000 characters
		cases := []struct {
			name   string
			answer string
			ago    time.Duration
		}{
			{"4000 Japanese characters outside the window", long, 30 * time.Hour},
			{"Arabic and emoji inside the window", "نعم، نشحن إلى تشيلي 🚚 خلال ٥ أيام", time.Hour},
			{"new lines and quotes outside the window", "Yes:\n\n  \"Monday\"\tto   Friday", 30 * time.Hour},
		}
		for i, c := range cases {
			conv := e.customerConv("+55119999901"+string(rune('0'+i)), ago(c.ago))
			n := e.raise(conv.ID, parley.NotificationQuestion, map[string]string{"question": "Ship to Chile? " + c.name})
			if r := e.answer(n.ID, map[string]any{"answer": c.answer}); r.Status != http.StatusOK {
				t.Fatalf("%s: %d %.200s", c.name, r.Status, r.Body)
			}
			got := e.sentTo(conv.ContactPhone, 1)[0]
			if n = e.get(n.ID); n.Answered["answer"] != strings.TrimSpace(c.answer) {
				t.Errorf("%s: stored answer differs", c.name)
			}
			doc, _ := e.Store.GetDocument(t.Context(), e.tenant.ID, n.DocumentID)
			if doc.Body != strings.TrimSpace(c.answer) {
				t.Errorf("%s: document body differs", c.name)
			}
			if got.Template != nil {
				// A question's answer template: the question, then the answer.
				p := got.Template.BodyParams[1]
				if n := len([]rune(p)); n > 1000 || strings.ContainsAny(p, "\n\t") || strings.Contains(p, "    ") {
					t.Errorf("%s: template parameter of %d characters: %q", c.name, n, p[:min(len(p), 80)])
				}
				if !strings.HasPrefix(p, "[en] "+strings.Join(strings.Fields(c.answer), " ")[:min(20, len(c.answer))]) {
					t.Errorf("%s: template parameter %q", c.name, p[:min(len(p), 80)])
				}
			} else if got.Text != "Good news! [en] "+c.answer+"." {
				t.Errorf("%s: free-form %q", c.name, got.Text)
			}
		}
	})
}

// Without an LLM: support requests go to the admins and answers go as the
// staff wrote them, inside the window as plain text.
func TestOfflineModeSendsTheStaffTextAsWritten(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{offline: true}, func(t *testing.T, e *env) {
		e.classificationDocs()
		e.staff("Rui", "+5511911110002", "returns")
		admin := e.staff("Ana", "+5511911110001", parley.StaffAdmin)
		conv := e.customerConv("+5511999990020", ago(time.Hour))
		n := e.raise(conv.ID, parley.NotificationSupport, map[string]string{"support_request_reason": "Broken lid"})
		if n.RequestType != "Admin" || len(n.Recipients) != 1 || n.Recipients[0].StaffMemberID != admin.ID {
			t.Fatalf("offline routing: %s", mustJSON(n))
		}
		if r := e.answer(n.ID, map[string]any{"agent_response_to_customer": "We send a new lid tomorrow", "resolution_notes": ""}); r.Status != 200 {
			t.Fatalf("answer: %d %s", r.Status, r.Body)
		}
		if got := e.sentTo(conv.ContactPhone, 1)[0]; got.Text != "We send a new lid tomorrow" {
			t.Fatalf("customer got %+v", got)
		}
		if n = e.get(n.ID); n.DeliveredVia != "text" {
			t.Fatalf("delivered via %q", n.DeliveredVia)
		}
	})
}

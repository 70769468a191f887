package notify_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/conversation"
	"github.com/parleyhq/parley/knowledge"
	"github.com/parleyhq/parley/llm/llmtest"
	"github.com/parleyhq/parley/notify"
	"github.com/parleyhq/parley/store"
)

// A customer asks what the knowledge base does not answer; the AI agent
// asks the staff; an admin (who never wrote to the business, so has no
// conversation yet) answers in their own WhatsApp chat; the customer gets
// the answer from the AI agent; the next customer is served from the
// knowledge base.
func TestQuestionFlowEndToEnd(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		admin := e.staff("Ana", "+5511911110001", parley.StaffAdmin)
		const customer = "+5511999990001"

		e.whatsApp(customer, "Q: Do you ship to Chile?")
		first := e.sentTo(customer, 1)
		if first[0].Text != "Thanks, noted." {
			t.Fatalf("customer got %q, want the AI agent's reply after raising", first[0].Text)
		}
		n := e.onlyNotification("?status=requested")
		if n.Ref != "NOTIF_1" || n.Type != parley.NotificationQuestion || n.Requested["question"] != "Do you ship to Chile?" || n.RequestType != "Customer question" || n.TargetType != "" {
			t.Fatalf("notification = %s", mustJSON(n))
		}
		doc, err := e.Store.GetDocument(ctx, e.tenant.ID, n.DocumentID)
		if err != nil || doc.Title != "Do you ship to Chile?" || doc.Category != parley.CategoryUserQuestion || doc.Source != "free_input" || doc.Body != "" {
			t.Fatalf("question document = %+v, %v", doc, err)
		}

		// The admin had no conversation: one was created, on the channel.
		sc := e.staffConv(admin)
		if sc.StaffMemberID != admin.ID || sc.ChannelID != e.wa.ID || len(n.Recipients) != 1 || n.Recipients[0].ConversationID != sc.ID {
			t.Fatalf("staff conversation %+v, recipients %+v", sc, n.Recipients)
		}
		req := e.sentTo(admin.Phone, 1)[0]
		if req.Type != "template" || req.Template.Name != "merchant_user_question_request" ||
			!slices.Equal(req.Template.BodyParams, []string{"NOTIF_1", "Customer question", "Do you ship to Chile?"}) {
			t.Fatalf("request to staff = %+v %+v", req, req.Template)
		}
		// The instruction holds no customer text; the question goes beside it
		// as quoted data (TestCustomerTextReachesStaffAIOnlyAsQuotedData).
		notes := systemNotes(e.messages(sc.ID))
		if len(notes) != 1 || !strings.Contains(notes[0], `notification_id "NOTIF_1"`) || strings.Contains(notes[0], "Chile") ||
			!strings.Contains(notes[0], "- answer (required)") {
			t.Fatalf("instruction = %q", notes)
		}
		var quoted []string
		for _, m := range e.messages(sc.ID) {
			if d, ok := m.Extra[conversation.ExtraCustomerData].(string); ok {
				quoted = append(quoted, d)
			}
		}
		if len(quoted) != 1 || !strings.Contains(quoted[0], `"question":"Do you ship to Chile?"`) {
			t.Fatalf("quoted customer data = %q", quoted)
		}

		// The admin answers in their chat: the AI there records it.
		e.whatsApp(admin.Phone, "NOTIF_1: Yes, to Chile in 5 working days")
		apptest.Eventually(t, "the answer", func() bool { return e.get(n.ID).Status == parley.NotificationAnswered })
		got := e.sentTo(customer, 2)[1]
		if got.Type != "text" || got.Text != "Good news! [en] Yes, to Chile in 5 working days." {
			t.Fatalf("customer got %+v, want the AI agent's reply with the localized answer", got)
		}
		n = e.get(n.ID)
		if n.AnsweredBy != notify.ByStaff(admin.ID) || n.Answered["answer"] != "Yes, to Chile in 5 working days" || n.DeliveredVia != notify.ViaAI || n.Delivered != 1 {
			t.Fatalf("answered notification = %s", mustJSON(n))
		}
		if d := e.waitDelivery(n.ID, "sent", "delivered", "read"); d.MessageID == "" {
			t.Fatalf("delivery = %+v", d)
		}
		// The AI agent saw the staff answer as context.
		if reqs := e.requestsTo("Knowledge passages"); !slices.ContainsFunc(reqs, func(r llmtest.Request) bool {
			return strings.Contains(r.Prompt(), "Staff answer: answer=\"Yes, to Chile in 5 working days\"")
		}) {
			t.Fatal("no AI agent request carried the staff answer")
		}

		// Each side was offered only its own tool (or none): no customer can reach
		// AnswerNotification, no staff member raise as a customer.
		for _, r := range e.requestsTo("Knowledge passages") {
			tools := r.ToolNames()
			staffSide := strings.Contains(r.System(), "staff member")
			// The AI agent wording a staff answer is offered no tool at all.
			if staffSide && slices.Contains(tools, notify.ToolRequest) || !staffSide && slices.Contains(tools, notify.ToolAnswer) {
				t.Errorf("staff side %v was offered %v", staffSide, tools)
			}
		}

		// The document now answers the next customer.
		doc, _ = e.Store.GetDocument(ctx, e.tenant.ID, n.DocumentID)
		if doc.Body != "Yes, to Chile in 5 working days" {
			t.Fatalf("document body = %q", doc.Body)
		}
		var found []knowledge.Passage
		err = e.Store.InTx(ctx, func(q *store.Queries) error {
			var err error
			found, err = knowledge.New().Retrieve(ctx, q, e.tenant.ID, "do you ship to chile", 3)
			return err
		})
		if err != nil || len(found) == 0 || found[0].DocumentID != doc.ID {
			t.Fatalf("retrieval for the next customer = %+v, %v", found, err)
		}
		var byDoc struct{ Items []parley.Notification }
		if r := e.Do(http.MethodGet, "/api/documents/"+doc.ID+"/notifications", e.key, nil); r.Status != 200 {
			t.Fatalf("document notifications: %d %s", r.Status, r.Body)
		} else if r.JSON(t, &byDoc); len(byDoc.Items) != 1 || byDoc.Items[0].ID != n.ID {
			t.Fatalf("document notifications = %s", r.Body)
		}
		var answerable notifyAnswerable
		e.Do(http.MethodGet, "/api/notifications/"+n.ID+"/answerable", e.key, nil).JSON(t, &answerable)
		if answerable.Answerable {
			t.Fatal("an answered single-answer notification is answerable")
		}
		// The customer's event log tells the story.
		evs, _, _ := e.Store.ListEvents(ctx, e.tenant.ID, n.ConversationID, store.Page{Limit: 200})
		var names []string
		for _, ev := range evs {
			names = append(names, ev.Name)
		}
		for _, want := range []string{notify.EventRequested, notify.EventAnswered, notify.EventDelivered} {
			if !slices.Contains(names, want) {
				t.Errorf("event log lacks %q: %v", want, names)
			}
		}
	})
}

type notifyAnswerable struct {
	Answerable bool `json:"answerable"`
}

// The 24-hour rule decides how the answer goes: just inside, the AI agent
// writes a free-form reply; just outside (or never wrote), the answer
// template with the localized fragment.
func TestAnswerJustInsideAndJustOutsideTheWindow(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		ago      *time.Duration
		typ      parley.NotificationType
		wantVia  string
		template string
	}{
		{"question just inside", ago(24*time.Hour - time.Second), parley.NotificationQuestion, notify.ViaAI, ""},
		{"question just outside", ago(24*time.Hour + time.Second), parley.NotificationQuestion, notify.ViaTemplate, "merchant_user_question_answer"},
		{"support just inside", ago(24*time.Hour - time.Second), parley.NotificationSupport, notify.ViaAI, ""},
		{"support just outside", ago(24*time.Hour + time.Second), parley.NotificationSupport, notify.ViaTemplate, "customer_support_response"},
		{"never wrote", nil, parley.NotificationQuestion, notify.ViaTemplate, "merchant_user_question_answer"},
	}
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		e.staff("Ana", "+5511911110001", parley.StaffAdmin)
		for i, c := range cases {
			customer := fmt.Sprintf("+55119999900%02d", 10+i)
			conv := e.customerConv(customer, c.ago)
			fields := map[string]string{"question": "Open on Sunday?"}
			answer := map[string]any{"answer": "Yes, 10 to 14"}
			if c.typ == parley.NotificationSupport {
				fields = map[string]string{"support_request_reason": "Item arrived damaged"}
				answer = map[string]any{"agent_response_to_customer": "we will send a new one today", "resolution_notes": "reshipped"}
			}
			n := e.raise(conv.ID, c.typ, fields)
			if r := e.answer(n.ID, answer); r.Status != http.StatusOK {
				t.Fatalf("%s: answer = %d %s", c.name, r.Status, r.Body)
			}
			got := e.sentTo(customer, 1)[0]
			text := answer["answer"]
			if text == nil {
				text = answer["agent_response_to_customer"]
			}
			switch c.wantVia {
			case notify.ViaAI:
				if got.Type != "text" || got.Text != "Good news! [en] "+text.(string)+"." {
					t.Errorf("%s: customer got %+v", c.name, got)
				}
			case notify.ViaTemplate:
				want := []string{"[en] " + text.(string)} // support: the fragment after "has reviewed your request and"
				if c.typ == parley.NotificationQuestion {
					want = []string{fields["question"], "[en] " + text.(string) + "."} // the question and the full sentence
				}
				if got.Type != "template" || got.Template.Name != c.template || !slices.Equal(got.Template.BodyParams, want) {
					t.Errorf("%s: customer got %+v %+v", c.name, got, got.Template)
				}
			}
			if n = e.get(n.ID); n.DeliveredVia != c.wantVia {
				t.Errorf("%s: delivered via %q, want %q", c.name, n.DeliveredVia, c.wantVia)
			}
		}
	})
}

package notify_test

import (
	"context"
	"html"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/notify"
)

// deliveryOf is what GET /api/notifications/{id} says of the answer's
// delivery (decoded by name, as a client reads it).
type deliveryOf struct {
	Status    string `json:"delivery_status"`
	Reason    string `json:"delivery_reason"`
	MessageID string `json:"delivery_message_id"`
}

func (e *env) delivery(id string) deliveryOf {
	e.t.Helper()
	var d deliveryOf
	r := e.Do(http.MethodGet, "/api/notifications/"+id, e.key, nil)
	if r.Status != http.StatusOK {
		e.t.Fatalf("get notification: %d %s", r.Status, r.Body)
	}
	r.JSON(e.t, &d)
	return d
}

// waitDelivery waits until the notification's delivery status is one of want.
func (e *env) waitDelivery(id string, want ...string) deliveryOf {
	e.t.Helper()
	var d deliveryOf
	apptest.Eventually(e.t, "delivery status "+strings.Join(want, " or "), func() bool {
		d = e.delivery(id)
		return slices.Contains(want, d.Status)
	})
	return d
}

func (e *env) events(convID string) []parley.Event { return e.Events(e.tenant.ID, convID) }

// Issue 13.1: inside the 24-hour window a human ticket holds the
// conversation (the AI agent stays silent there). The staff answer still
// goes to the customer, the ticket's agent is told in the conversation,
// the ticket stays open, and the notification says the message was sent.
func TestStaffAnswerReachesCustomerWhileATicketHolds(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.staff("Ana", "+5511911110001", parley.StaffAdmin)
		conv := e.customerConv("+5511999990101", ago(time.Hour))
		tk, err := e.Store.CreateTicket(ctx, parley.Ticket{TenantID: e.tenant.ID, ConversationID: conv.ID, Status: parley.TicketOpen, Reason: "needs a human"})
		if err != nil {
			t.Fatal(err)
		}
		n := e.raise(conv.ID, parley.NotificationQuestion, map[string]string{"question": "Open on Sunday?"})
		if r := e.answer(n.ID, map[string]any{"answer": "Yes, 10 to 14"}); r.Status != http.StatusOK {
			t.Fatalf("answer: %d %s", r.Status, r.Body)
		}
		got := e.sentTo(conv.ContactPhone, 1)[0]
		if got.Type != "text" || got.Text != "[en] Yes, 10 to 14." {
			t.Fatalf("customer got %+v, want the localized answer as text", got)
		}
		d := e.waitDelivery(n.ID, "sent", "delivered", "read")
		if d.MessageID == "" || e.get(n.ID).DeliveredVia != notify.ViaText {
			t.Fatalf("delivery = %+v, via %q", d, e.get(n.ID).DeliveredVia)
		}
		if tk, _ = e.Store.GetTicket(ctx, e.tenant.ID, tk.ID); tk.Status != parley.TicketOpen {
			t.Fatalf("ticket = %+v, want it still open", tk)
		}
		notes := systemNotes(e.messages(conv.ID))
		if !slices.ContainsFunc(notes, func(s string) bool {
			return strings.Contains(s, "NOTIF_1") && strings.Contains(s, "sent to the customer") && strings.Contains(s, "ticket stays open")
		}) {
			t.Fatalf("no note for the ticket's agent: %q", notes)
		}
		if !slices.ContainsFunc(e.events(conv.ID), func(ev parley.Event) bool {
			return ev.Name == notify.EventDelivered && strings.Contains(mustJSON(ev.Payload), `"status":"queued"`) &&
				strings.Contains(mustJSON(ev.Payload), d.MessageID) && strings.Contains(mustJSON(ev.Payload), tk.ID)
		}) {
			t.Fatalf("event log lacks the queued answer: %+v", e.events(conv.ID))
		}
	})
}

// Issue 13.1: the customer's conversation was closed: the answer is sent
// anyway (the conversation stays closed) and the notification says so.
func TestStaffAnswerReachesCustomerOfAClosedConversation(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.staff("Ana", "+5511911110001", parley.StaffAdmin)
		conv := e.customerConv("+5511999990102", ago(time.Hour))
		n := e.raise(conv.ID, parley.NotificationSupport, map[string]string{"support_request_reason": "Item arrived damaged"})
		if err := e.Store.SetConversationStatus(ctx, e.tenant.ID, conv.ID, parley.ConversationClosed); err != nil {
			t.Fatal(err)
		}
		if r := e.answer(n.ID, map[string]any{"agent_response_to_customer": "we will send a new one today"}); r.Status != http.StatusOK {
			t.Fatalf("answer: %d %s", r.Status, r.Body)
		}
		if got := e.sentTo(conv.ContactPhone, 1)[0]; got.Type != "text" || got.Text != "[en] we will send a new one today." {
			t.Fatalf("customer got %+v", got)
		}
		e.waitDelivery(n.ID, "sent", "delivered", "read")
		if !slices.ContainsFunc(e.events(conv.ID), func(ev parley.Event) bool {
			return ev.Name == notify.EventDelivered && strings.Contains(mustJSON(ev.Payload), `"conversation_closed":true`)
		}) {
			t.Fatalf("event log does not say the conversation was closed: %+v", e.events(conv.ID))
		}
	})
}

// Issue 13.1: the provider refuses the answer: the notification says
// failed, with the reason, in the API and on the dashboard page; the event
// log links the answer to the failed message.
func TestRefusedAnswerShowsAsFailed(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		e.staff("Ana", "+5511911110001", parley.StaffAdmin)
		conv := e.customerConv("+5511999990103", ago(30*time.Hour))
		n := e.raise(conv.ID, parley.NotificationQuestion, map[string]string{"question": "Do you deliver on Sunday?"})
		e.sentTo("+5511911110001", 1)
		e.graph.Script(whatsapptest.Response{Status: 400, Code: 132001, Message: "(#132001) Template name does not exist in the translation"})
		if r := e.answer(n.ID, map[string]any{"answer": "No"}); r.Status != http.StatusOK {
			t.Fatalf("answer: %d %s", r.Status, r.Body)
		}
		d := e.waitDelivery(n.ID, "failed")
		if d.Reason == "" || d.MessageID == "" {
			t.Fatalf("failed delivery without a reason: %+v", d)
		}
		if len(e.sent(conv.ContactPhone)) != 0 {
			t.Fatal("the fake accepted a refused send")
		}
		evs := e.events(conv.ID)
		if !slices.ContainsFunc(evs, func(ev parley.Event) bool {
			return ev.Name == notify.EventDelivered && strings.Contains(mustJSON(ev.Payload), d.MessageID)
		}) {
			t.Fatalf("event log lacks the answer's message: %+v", evs)
		}
		if !slices.ContainsFunc(evs, func(ev parley.Event) bool {
			return ev.Name == event.MessageSendFailed && ev.Payload["message_id"] == d.MessageID
		}) {
			t.Fatalf("event log lacks the failed send of the answer: %+v", evs)
		}
		b := e.browser("owner@acme.test", e.tenant.ID)
		if list := b.get("/notifications?status=answered"); !strings.Contains(list, "to the customer: failed") {
			t.Fatalf("dashboard list lacks the failed delivery:\n%s", list)
		}
		page := b.get("/notifications/" + n.ID)
		t.Logf("failed delivery reason: %q", d.Reason)
		if !strings.Contains(page, `id="delivery-status">failed</span>`) || !strings.Contains(page, html.EscapeString(d.Reason)) ||
			!strings.Contains(page, "The customer did not get this answer") {
			t.Fatalf("dashboard page lacks the failed delivery:\n%s", page)
		}
	})
}

// Issue 13.1: the conversation was deleted: skipped, with the reason.
func TestAnswerToADeletedConversationIsSkipped(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.staff("Ana", "+5511911110001", parley.StaffAdmin)
		conv := e.customerConv("+5511999990104", ago(time.Hour))
		n := e.raise(conv.ID, parley.NotificationQuestion, map[string]string{"question": "Gift cards?"})
		if _, err := e.Store.DB().ExecContext(ctx, `DELETE FROM conversations WHERE id = $1`, conv.ID); err != nil {
			t.Fatal(err)
		}
		if r := e.answer(n.ID, map[string]any{"answer": "Yes"}); r.Status != http.StatusOK {
			t.Fatalf("answer: %d %s", r.Status, r.Body)
		}
		if d := e.waitDelivery(n.ID, "skipped"); d.Reason == "" {
			t.Fatalf("skipped without a reason: %+v", d)
		}
	})
}

// Issue 13.11: a question has no target type: every staff member gets it.
func TestQuestionGoesToAllStaff(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		ana := e.staff("Ana", "+5511911110001", parley.StaffAdmin)
		sol := e.staff("Sol", "+5511911110002", "sales")
		conv := e.customerConv("+5511999990105", ago(time.Hour))
		n := e.raise(conv.ID, parley.NotificationQuestion, map[string]string{"question": "Do you ship to Chile?"})
		if len(n.Recipients) != 2 {
			t.Fatalf("recipients = %+v", n.Recipients)
		}
		for _, m := range []parley.StaffMember{ana, sol} {
			if s := e.sentTo(m.Phone, 1)[0]; s.Template == nil || s.Template.Name != "merchant_user_question_request" {
				t.Fatalf("%s got %+v", m.Name, s)
			}
		}
	})
}

// Issue 13.11: a support request may go to several staff types; the
// classifier finding none sends it to all staff.
func TestSupportToSeveralTypesAndToAllStaff(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		ana := e.staff("Ana", "+5511911110001", parley.StaffAdmin)
		sol := e.staff("Sol", "+5511911110002", "sales")
		rui := e.staff("Rui", "+5511911110003", "returns")
		e.classificationDocs()
		conv := e.customerConv("+5511999990106", ago(time.Hour))
		reason := map[string]string{"support_request_reason": "I want to swap it for a bigger model"}

		e.classifyAs("returns,sales", "Exchange")
		n := e.raise(conv.ID, parley.NotificationSupport, reason)
		var ids []string
		for _, r := range n.Recipients {
			ids = append(ids, r.StaffMemberID)
		}
		slices.Sort(ids)
		want := []string{sol.ID, rui.ID}
		slices.Sort(want)
		if !slices.Equal(ids, want) || n.RequestType != "Exchange" {
			t.Fatalf("several types: %s", mustJSON(n))
		}
		e.sentTo(sol.Phone, 1)
		e.sentTo(rui.Phone, 1)
		if len(e.sent(ana.Phone)) != 0 {
			t.Fatal("the admin got a request for returns and sales")
		}

		e.classifyAs("", "Other")
		n = e.raise(conv.ID, parley.NotificationSupport, reason)
		if len(n.Recipients) != 3 {
			t.Fatalf("no type: recipients %+v", n.Recipients)
		}
		e.sentTo(ana.Phone, 1)
		e.sentTo(sol.Phone, 2)
		e.sentTo(rui.Phone, 2)
	})
}

// Issue 13.12: outside the window a question's answer template gets the
// question and the full sentence; the localization prompt is the
// question's own and carries the customer's name and the question.
func TestQuestionAnswerTemplateAndLocalization(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.staff("Ana", "+5511911110001", parley.StaffAdmin)
		cust, err := e.Store.CreateCustomer(ctx, parley.Customer{TenantID: e.tenant.ID, Phone: "+5511999990107", Name: "Joana Lima"})
		if err != nil {
			t.Fatal(err)
		}
		at := e.clk.Now().Add(-30 * time.Hour)
		conv, err := e.Store.CreateConversation(ctx, parley.Conversation{TenantID: e.tenant.ID, Kind: parley.KindCustomer, CustomerID: cust.ID,
			ContactPhone: cust.Phone, ChannelID: e.wa.ID, Language: "pt", LastCustomerMessageAt: &at})
		if err != nil {
			t.Fatal(err)
		}
		n := e.raise(conv.ID, parley.NotificationQuestion, map[string]string{"question": "Do you ship to Chile?"})
		if r := e.answer(n.ID, map[string]any{"answer": "yes in 5 days"}); r.Status != http.StatusOK {
			t.Fatalf("answer: %d %s", r.Status, r.Body)
		}
		got := e.sentTo(conv.ContactPhone, 1)[0]
		if got.Template == nil || got.Template.Name != "merchant_user_question_answer" ||
			!slices.Equal(got.Template.BodyParams, []string{"Do you ship to Chile?", "[pt] yes in 5 days."}) {
			t.Fatalf("customer got %+v %+v", got, got.Template)
		}
		q := e.requestsTo("rewrite a business's staff answer")
		if len(q) != 1 || !strings.Contains(q[0].System(), "answer to the customer's question") ||
			!strings.Contains(q[0].LastUser(), "Customer name: Joana Lima") || !strings.Contains(q[0].LastUser(), "Question: Do you ship to Chile?") {
			t.Fatalf("question localization request = %+v", q)
		}

		// A support answer is localized with its own prompt: the fragment
		// continues "has reviewed your request and".
		s := e.raise(conv.ID, parley.NotificationSupport, map[string]string{"support_request_reason": "Broken lid"})
		if r := e.answer(s.ID, map[string]any{"agent_response_to_customer": "a new lid ships today"}); r.Status != http.StatusOK {
			t.Fatalf("answer: %d %s", r.Status, r.Body)
		}
		if got := e.sentTo(conv.ContactPhone, 2)[1]; got.Template == nil || !slices.Equal(got.Template.BodyParams, []string{"[pt] a new lid ships today"}) {
			t.Fatalf("support answer = %+v", got.Template)
		}
		all := e.requestsTo("rewrite a business's staff answer")
		if len(all) != 2 || all[1].System() == all[0].System() || !strings.Contains(all[1].System(), `has reviewed your request and`) ||
			!strings.Contains(all[1].LastUser(), "Customer name: Joana Lima") || !strings.Contains(all[1].LastUser(), "Support request: Broken lid") {
			t.Fatalf("support localization request = %+v", all)
		}
	})
}

// Issue 13.12: an answer recorded for a notification created already
// answered (type + conversation), delivered to the customer; and
// GET /api/notifications takes a list of types.
func TestCreateAnsweredAndListByTypes(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		e.staff("Ana", "+5511911110001", parley.StaffAdmin)
		conv := e.customerConv("+5511999990108", ago(30*time.Hour))
		r := e.Do(http.MethodPost, "/api/notifications", e.key, map[string]any{"type": "user_question_request", "conversation_id": conv.ID,
			"context": map[string]string{"question": "Parking?"}, "answer": map[string]any{"answer": "Free parking behind the shop"}})
		if r.Status != http.StatusCreated {
			t.Fatalf("create answered: %d %s", r.Status, r.Body)
		}
		var n parley.Notification
		r.JSON(t, &n)
		if n.Status != parley.NotificationAnswered || n.Answered["answer"] != "Free parking behind the shop" || n.AnsweredBy != notify.ByAPI {
			t.Fatalf("created = %s", r.Body)
		}
		if got := e.sentTo(conv.ContactPhone, 1)[0]; got.Template == nil || !slices.Equal(got.Template.BodyParams, []string{"Parking?", "[en] Free parking behind the shop."}) {
			t.Fatalf("customer got %+v", got.Template)
		}
		if len(e.sent("+5511911110001")) != 0 {
			t.Fatal("staff were asked a question created answered")
		}
		e.waitDelivery(n.ID, "sent", "delivered", "read")
		// Bad input: 422, nothing created.
		if r := e.Do(http.MethodPost, "/api/notifications", e.key, map[string]any{"type": "user_question_request", "conversation_id": conv.ID,
			"context": map[string]string{"question": "Parking?"}, "answer": map[string]any{"answer": " "}}); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("blank answer: %d %s", r.Status, r.Body)
		}

		e.raise(conv.ID, parley.NotificationSupport, map[string]string{"support_request_reason": "Refund"})
		var list struct{ Items []parley.Notification }
		if r := e.Do(http.MethodGet, "/api/notifications?type=user_question_request,user_support_request", e.key, nil); r.Status != http.StatusOK {
			t.Fatalf("list by types: %d %s", r.Status, r.Body)
		} else if r.JSON(t, &list); len(list.Items) != 2 {
			t.Fatalf("list by types = %s", r.Body)
		}
		list.Items = nil
		e.Do(http.MethodGet, "/api/notifications?type=user_support_request", e.key, nil).JSON(t, &list)
		if len(list.Items) != 1 || list.Items[0].Type != parley.NotificationSupport {
			t.Fatalf("list by one type = %s", mustJSON(list.Items))
		}
		if r := e.Do(http.MethodGet, "/api/notifications?type=user_question_request,nope", e.key, nil); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("unknown type in the list: %d %s", r.Status, r.Body)
		}
	})
}

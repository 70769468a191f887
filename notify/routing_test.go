package notify_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/llm/llmtest"
	"github.com/parleyhq/parley/notify"
	"github.com/parleyhq/parley/store"
)

const classifyPrompt = "route a business's support requests"

func (e *env) classifyAs(target, label string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.classify = func(string) (string, string) { return target, label }
}

func (e *env) classificationDocs() {
	e.document(parley.CategorySupportClassification, "sales", "Product questions, prices, availability")
	e.document(parley.CategorySupportClassification, "returns", "Returns, exchanges, refunds, damaged items")
}

// A support request raised by the AI agent is classified against the
// tenant's SupportClassification documents and goes to that staff type only.
func TestSupportRequestIsClassifiedAndRouted(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		e.classificationDocs()
		e.classifyAs("Returns", "Damaged item")
		admin := e.staff("Ana", "+5511911110001", parley.StaffAdmin)
		ret := e.staff("Rui", "+5511911110002", "returns")
		const customer = "+5511999990002"

		e.whatsApp(customer, "SUPPORT: My blender arrived broken")
		e.sentTo(customer, 1)
		n := e.onlyNotification("?type=user_support_request")
		if n.TargetType != "returns" || n.RequestType != "Damaged item" || len(n.Recipients) != 1 || n.Recipients[0].StaffMemberID != ret.ID {
			t.Fatalf("routed to %s", mustJSON(n))
		}
		req := e.sentTo(ret.Phone, 1)[0]
		if req.Template == nil || req.Template.Name != "merchant_user_override_request" ||
			!slices.Equal(req.Template.BodyParams, []string{"NOTIF_1", "Damaged item", "My blender arrived broken"}) {
			t.Fatalf("request to returns = %+v", req)
		}
		if len(e.sent(admin.Phone)) != 0 {
			t.Fatal("the admin got a request classified for returns")
		}
		cls := e.requestsTo(classifyPrompt)
		if len(cls) != 1 || !strings.Contains(cls[0].LastUser(), "User type: returns\nType description: Returns, exchanges, refunds, damaged items") ||
			!strings.Contains(cls[0].LastUser(), "My blender arrived broken") || cls[0].ResponseFormat == nil {
			t.Fatalf("classification request = %+v", cls)
		}
		// A support answer needs the customer-facing field; notes are optional.
		if r := e.answer(n.ID, map[string]any{"agent_response_to_customer": "a new one ships today"}); r.Status != http.StatusOK {
			t.Fatalf("answer: %d %s", r.Status, r.Body)
		}
		e.sentTo(customer, 2)
		if n = e.get(n.ID); n.Answered["agent_response_to_customer"] != "a new one ships today" || n.DocumentID != "" {
			t.Fatalf("answered support = %s", mustJSON(n))
		}
	})
}

// Fallbacks to the admins: the classified type has no staff; the tenant
// has no classification documents (the LLM is not asked); the LLM names a
// type that is not in them; the LLM fails. (No match at all goes to every
// staff member: TestSupportToSeveralTypesAndToAllStaff.)
func TestSupportFallsBackToAdmins(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		admin := e.staff("Ana", "+5511911110001", parley.StaffAdmin)
		e.staff("Sol", "+5511911110003", "sales")
		conv := e.customerConv("+5511999990003", ago(time.Hour))
		reason := map[string]string{"support_request_reason": "I want an invoice with my tax number"}

		// No classification documents: admins, and no LLM call.
		n := e.raise(conv.ID, parley.NotificationSupport, reason)
		if n.TargetType != parley.StaffAdmin || n.RequestType != "Admin" || len(n.Recipients) != 1 || n.Recipients[0].StaffMemberID != admin.ID {
			t.Fatalf("without documents: %s", mustJSON(n))
		}
		if got := e.requestsTo(classifyPrompt); len(got) != 0 {
			t.Fatalf("the LLM was asked to classify without documents: %d requests", len(got))
		}

		e.classificationDocs()
		e.document(parley.CategorySupportClassification, "billing", "Invoices and payments")
		cases := []struct {
			name  string
			setup func()
		}{
			{"classified type has no staff", func() { e.classifyAs("billing", "Invoice") }},
			{"a type that is not in the documents", func() { e.classifyAs("warehouse", "Stock") }},
			{"the LLM fails", func() {
				e.classifyAs("sales", "Sales")
				e.llm.Enqueue(llmtest.Status(401, "invalid_request_error", "invalid_api_key", "bad key"))
			}},
		}
		for i, c := range cases {
			c.setup()
			n := e.raise(conv.ID, parley.NotificationSupport, reason)
			if n.TargetType != parley.StaffAdmin || n.RequestType != "Admin" || len(n.Recipients) != 1 || n.Recipients[0].StaffMemberID != admin.ID {
				t.Errorf("%s: %s", c.name, mustJSON(n))
			}
			if sent := e.sentTo(admin.Phone, i+2); sent[i+1].Template.BodyParams[1] != "Admin" {
				t.Errorf("%s: template shows %q", c.name, sent[i+1].Template.BodyParams)
			}
		}
		if got := len(e.sent("+5511911110003")); got != 0 {
			t.Fatalf("sales got %d requests", got)
		}
	})
}

// Several staff get the request; one answers in their chat; the others
// are told it is closed — on WhatsApp where their window is open, in their
// conversation (for their AI) always — and a late answer is refused.
func TestOneOfSeveralStaffAnswersTheOthersGetClosure(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		ana := e.staff("Ana", "+5511911110001", parley.StaffAdmin)
		bia := e.staff("Bia", "+5511911110002", parley.StaffAdmin)
		caio := e.staff("Caio", "+5511911110003", parley.StaffAdmin)
		// Bia wrote to the business an hour ago: her window is open.
		at := e.clk.Now().Add(-time.Hour)
		if _, err := e.Store.CreateConversation(ctx, parley.Conversation{TenantID: e.tenant.ID, Kind: parley.KindStaff, StaffMemberID: bia.ID,
			ContactPhone: bia.Phone, ChannelID: e.wa.ID, LastCustomerMessageAt: &at}); err != nil {
			t.Fatal(err)
		}
		conv := e.customerConv("+5511999990004", ago(time.Hour))
		n := e.raise(conv.ID, parley.NotificationQuestion, map[string]string{"question": "Gift wrapping?"})
		if len(n.Recipients) != 3 {
			t.Fatalf("recipients = %+v", n.Recipients)
		}
		for _, m := range []parley.StaffMember{ana, bia, caio} {
			if s := e.sentTo(m.Phone, 1); s[0].Template == nil {
				t.Fatalf("%s got %+v", m.Name, s)
			}
		}

		e.whatsApp(ana.Phone, "NOTIF_1: Yes, free of charge")
		apptest.Eventually(t, "the answer", func() bool { return e.get(n.ID).Status == parley.NotificationAnswered })
		e.sentTo(conv.ContactPhone, 1)

		closure := "Notification NOTIF_1 has been answered and is now closed."
		if s := e.sentTo(bia.Phone, 2); s[1].Type != "text" || s[1].Text != closure {
			t.Fatalf("Bia (window open) got %+v", s)
		}
		e.sentTo(caio.Phone, 1) // window closed: no WhatsApp message
		for _, m := range []parley.StaffMember{bia, caio} {
			notes := systemNotes(e.messages(e.staffConv(m).ID))
			if len(notes) != 2 || !strings.HasPrefix(notes[1], closure) {
				t.Errorf("%s's conversation notes = %q", m.Name, notes)
			}
		}
		if notes := systemNotes(e.messages(e.staffConv(ana).ID)); len(notes) != 1 {
			t.Errorf("the one who answered got a closure: %q", notes)
		}
		// Ana's chat: her answer went through the tool and her AI thanked her.
		if s := e.sentTo(ana.Phone, 2); s[1].Text != "Thanks, noted." {
			t.Errorf("Ana got %+v", s[1])
		}

		// Bia answers late in her chat: refused, the first answer stands.
		e.whatsApp(bia.Phone, "NOTIF_1: No, sorry")
		s := e.sentTo(bia.Phone, 3)
		if !strings.Contains(s[2].Text, "NOTIF_1 was already answered and is closed") {
			t.Fatalf("Bia's late answer got %q", s[2].Text)
		}
		if got := e.get(n.ID); got.Answered["answer"] != "Yes, free of charge" || got.AnsweredBy != notify.ByStaff(ana.ID) || got.Answers != 1 {
			t.Fatalf("after the late answer: %s", mustJSON(got))
		}
		e.sentTo(conv.ContactPhone, 1)
	})
}

// With no staff at all the notification still exists and waits for an
// answer from the API or the dashboard.
func TestNoStaffAtAll(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		conv := e.customerConv("+5511999990005", ago(48*time.Hour))
		n := e.raise(conv.ID, parley.NotificationQuestion, map[string]string{"question": "Do you have a shop in Lisbon?"})
		if n.Status != parley.NotificationRequested || len(n.Recipients) != 0 || n.RequestType != "Customer question" {
			t.Fatalf("notification = %s", mustJSON(n))
		}
		if sent := e.graph.Sent(); len(sent) != 0 {
			t.Fatalf("sent %d messages with no staff", len(sent))
		}
		if r := e.answer(n.ID, map[string]any{"answer": "Not yet"}); r.Status != http.StatusOK {
			t.Fatalf("answer: %d %s", r.Status, r.Body)
		}
		if got := e.sentTo(conv.ContactPhone, 1)[0]; got.Template == nil || !slices.Equal(got.Template.BodyParams, []string{"Do you have a shop in Lisbon?", "[en] Not yet."}) {
			t.Fatalf("customer got %+v", got)
		}
	})
}

// The conversation is deleted while the request job waits for the
// classification: the job ends without writing anything.
func TestConversationDeletedWhileTheJobRuns(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		admin := e.staff("Ana", "+5511911110001", parley.StaffAdmin)
		e.classificationDocs()
		conv := e.customerConv("+5511999990006", ago(time.Hour))
		release := make(chan struct{})
		e.llm.Enqueue(llmtest.SlowUntil(release))
		r := e.Do(http.MethodPost, "/api/notifications", e.key, map[string]any{"type": "user_support_request", "conversation_id": conv.ID,
			"context": map[string]string{"support_request_reason": "Where is my order?"}})
		if r.Status != http.StatusAccepted {
			t.Fatalf("raise: %d %s", r.Status, r.Body)
		}
		id := r.Map(t)["id"].(string)
		apptest.Eventually(t, "the classification call", func() bool { return len(e.requestsTo(classifyPrompt)) == 1 })
		if _, err := e.Store.DB().ExecContext(ctx, `DELETE FROM conversations WHERE id = $1`, conv.ID); err != nil {
			t.Fatal(err)
		}
		close(release)
		apptest.Eventually(t, "the request job to be cancelled", func() bool {
			res, err := e.Jobs.JobList(ctx, river.NewJobListParams().Kinds(notify.RequestArgs{}.Kind()).States(rivertype.JobStateCancelled))
			return err == nil && len(res.Jobs) == 1
		})
		if r := e.Do(http.MethodGet, "/api/notifications/"+id, e.key, nil); r.Status != http.StatusNotFound {
			t.Fatalf("notification after the deletion: %d %s", r.Status, r.Body)
		}
		if _, err := e.Store.OpenConversationByContact(ctx, e.tenant.ID, parley.KindStaff, admin.Phone); parley.ErrorCode(err) != parley.CodeNotFound {
			t.Fatalf("a staff conversation was written: %v", err)
		}
		docs, _, _ := e.Store.ListDocuments(ctx, e.tenant.ID, parley.CategoryUserQuestion, store.Page{})
		if len(docs) != 0 || len(e.graph.Sent()) != 0 {
			t.Fatalf("written after the deletion: %d documents, %d sends", len(docs), len(e.graph.Sent()))
		}
	})
}

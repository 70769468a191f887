package notify_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/store"
)

// A tenant that maps its own template names (and parameter order) gets
// them for every notification purpose: the staff request and the answer
// outside the 24-hour window, for questions and support requests.
func TestTenantsOwnTemplateNamesForEveryNotificationPurpose(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		own := map[campaign.Purpose]struct {
			name   string
			params []string
		}{
			campaign.StaffQuestionRequest: {"acme_staff_question", []string{"request", "ref"}},
			campaign.StaffSupportRequest:  {"acme_staff_support", []string{"ref", "request"}},
			campaign.QuestionAnswer:       {"acme_answer", []string{"answer"}},
			campaign.SupportAnswer:        {"acme_support_answer", []string{"request", "answer_fragment"}},
		}
		for p, m := range own {
			r := e.Do(http.MethodPut, "/api/template-mappings/"+string(p)+"/whatsapp", e.key,
				map[string]any{"template_name": m.name, "language": "en_GB", "parameters": m.params})
			if r.Status != http.StatusOK {
				t.Fatalf("put %s = %d %s", p, r.Status, r.Body)
			}
		}
		staff := e.staff("Ana", "+5511911110001", parley.StaffAdmin)
		conv := e.customerConv("+5511999990100", ago(48*time.Hour))
		n := e.raise(conv.ID, parley.NotificationQuestion, map[string]string{"question": "Open on Sunday?"})
		req := e.sentTo(staff.Phone, 1)[0]
		if req.Template == nil || req.Template.Name != "acme_staff_question" || req.Template.Language != "en_GB" ||
			!slices.Equal(req.Template.BodyParams, []string{"Open on Sunday?", n.Ref}) {
			t.Fatalf("staff got %+v %+v", req, req.Template)
		}
		if r := e.answer(n.ID, map[string]any{"answer": "Yes, 10 to 14"}); r.Status != http.StatusOK {
			t.Fatalf("answer = %d %s", r.Status, r.Body)
		}
		got := e.sentTo(conv.ContactPhone, 1)[0]
		if got.Template == nil || got.Template.Name != "acme_answer" || !slices.Equal(got.Template.BodyParams, []string{"[en] Yes, 10 to 14."}) {
			t.Fatalf("customer got %+v %+v", got, got.Template)
		}

		conv2 := e.customerConv("+5511999990101", ago(48*time.Hour))
		n2 := e.raise(conv2.ID, parley.NotificationSupport, map[string]string{"support_request_reason": "Item arrived damaged"})
		req = e.sentTo(staff.Phone, 2)[1]
		if req.Template == nil || req.Template.Name != "acme_staff_support" || !slices.Equal(req.Template.BodyParams, []string{n2.Ref, "Item arrived damaged"}) {
			t.Fatalf("staff got %+v %+v", req, req.Template)
		}
		if r := e.answer(n2.ID, map[string]any{"agent_response_to_customer": "we will send a new one", "resolution_notes": ""}); r.Status != http.StatusOK {
			t.Fatalf("answer = %d %s", r.Status, r.Body)
		}
		got = e.sentTo(conv2.ContactPhone, 1)[0]
		if got.Template == nil || got.Template.Name != "acme_support_answer" ||
			!slices.Equal(got.Template.BodyParams, []string{"Item arrived damaged", "[en] we will send a new one"}) {
			t.Fatalf("customer got %+v %+v", got, got.Template)
		}
	})
}

// A purpose with no mapping is not sent: the staff request and the answer
// are skipped, each with its reason in the API and the event log.
func TestMissingTemplateMappingIsSkippedWithItsReason(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		for _, p := range []campaign.Purpose{campaign.StaffQuestionRequest, campaign.QuestionAnswer} {
			if r := e.Do(http.MethodDelete, "/api/template-mappings/"+string(p)+"/whatsapp", e.key, nil); r.Status != http.StatusNoContent {
				t.Fatalf("delete %s = %d %s", p, r.Status, r.Body)
			}
		}
		staff := e.staff("Ana", "+5511911110001", parley.StaffAdmin)
		conv := e.customerConv("+5511999990200", ago(48*time.Hour))
		n := e.raise(conv.ID, parley.NotificationQuestion, map[string]string{"question": "Open on Sunday?"})
		if len(n.Recipients) != 0 {
			t.Fatalf("recipients %+v, want none", n.Recipients)
		}
		if r := e.answer(n.ID, map[string]any{"answer": "Yes, 10 to 14"}); r.Status != http.StatusOK {
			t.Fatalf("answer = %d %s", r.Status, r.Body)
		}
		e.settle()
		if n = e.get(n.ID); n.DeliveryStatus != "skipped" || n.DeliveredVia != "none" || !strings.Contains(n.DeliveryReason, "no template is mapped for question_answer") {
			t.Fatalf("delivery %q via %q: %q", n.DeliveryStatus, n.DeliveredVia, n.DeliveryReason)
		}
		if s := append(e.sent(staff.Phone), e.sent(conv.ContactPhone)...); len(s) != 0 {
			t.Fatalf("sent %+v", s)
		}
		evs, _, err := e.Store.ListEvents(context.Background(), e.tenant.ID, conv.ID, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var codes []string
		for _, ev := range evs {
			if ev.Name == campaign.EventTemplateSkipped {
				codes = append(codes, ev.Payload["purpose"].(string)+":"+ev.Payload["code"].(string))
			}
		}
		slices.Sort(codes)
		if want := []string{"question_answer:no_template_mapping", "staff_question_request:no_template_mapping"}; !slices.Equal(codes, want) {
			t.Fatalf("skip events %v, want %v", codes, want)
		}
	})
}

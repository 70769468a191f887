package notify_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/dashboard"
)

type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (e *env) browser(email string, tenantID string) *browser {
	e.t.Helper()
	if _, err := dashboard.CreateUser(context.Background(), e.Store, dashboard.NewUser{TenantID: tenantID, Email: email, Name: "User", Password: "correct horse battery"}); err != nil {
		e.t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	b := &browser{t: e.t, base: e.URL(), c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	form := b.get("/signin")
	if st, body := b.post("/signin", url.Values{"csrf_token": {csrf(b.t, form)}, "email": {email}, "password": {"correct horse battery"}}); st != http.StatusSeeOther {
		e.t.Fatalf("sign in: %d %s", st, body)
	}
	return b
}

func (b *browser) get(path string) string {
	b.t.Helper()
	st, body := b.do(http.MethodGet, path, nil)
	if st != http.StatusOK {
		b.t.Fatalf("GET %s: %d\n%s", path, st, body)
	}
	return body
}

func (b *browser) post(path string, form url.Values) (int, string) {
	return b.do(http.MethodPost, path, form)
}

func (b *browser) do(method, path string, form url.Values) (int, string) {
	b.t.Helper()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, rd)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func csrf(t *testing.T, page string) string {
	t.Helper()
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in\n%s", page)
	}
	return m[1]
}

// The Notifications page lists open requests, answers them through a form
// built from the answer schema (CSRF-protected), and keeps the history.
func TestDashboardNotificationsPage(t *testing.T) {
	t.Parallel()
	eachEngine(t, options{}, func(t *testing.T, e *env) {
		e.staff("Ana", "+5511911110001", parley.StaffAdmin)
		conv := e.customerConv("+5511999990030", ago(30*time.Hour))
		n := e.raise(conv.ID, parley.NotificationSupport, map[string]string{"support_request_reason": "Wrong size <b>shoes</b>"})
		b := e.browser("owner@acme.test", e.tenant.ID)

		list := b.get("/notifications")
		if !strings.Contains(list, `href="/notifications/`+n.ID+`">NOTIF_1</a>`) || !strings.Contains(list, "Wrong size &lt;b&gt;shoes&lt;/b&gt;") {
			t.Fatalf("open list:\n%s", list)
		}
		if !strings.Contains(b.get("/notifications?status=answered"), "No notifications yet") {
			t.Fatal("the answered history lists an open notification")
		}
		page := b.get("/notifications/" + n.ID)
		for _, want := range []string{`name="agent_response_to_customer"`, `name="resolution_notes"`, `agent_response_to_customer *`, `action="/notifications/` + n.ID + `/answer"`} {
			if !strings.Contains(page, want) {
				t.Fatalf("answer form lacks %s:\n%s", want, page)
			}
		}
		token := csrf(t, page)

		// Without the session's CSRF token: refused, nothing changes.
		if st, _ := b.post("/notifications/"+n.ID+"/answer", url.Values{"agent_response_to_customer": {"exchange it"}}); st != http.StatusForbidden {
			t.Fatalf("answer without CSRF = %d", st)
		}
		if st, _ := b.post("/notifications/"+n.ID+"/answer", url.Values{"csrf_token": {"forged"}, "agent_response_to_customer": {"exchange it"}}); st != http.StatusForbidden {
			t.Fatalf("answer with a forged CSRF token = %d", st)
		}
		// A blank answer: shown again with the field's error.
		if st, body := b.post("/notifications/"+n.ID+"/answer", url.Values{"csrf_token": {token}, "agent_response_to_customer": {"  "}, "resolution_notes": {"kept"}}); st != http.StatusUnprocessableEntity ||
			!strings.Contains(body, `class="field-error"`) || !strings.Contains(body, ">kept</textarea>") {
			t.Fatalf("blank answer = %d\n%s", st, body)
		}
		if got := e.get(n.ID); got.Status != parley.NotificationRequested {
			t.Fatalf("a refused form changed the notification: %s", mustJSON(got))
		}

		if st, body := b.post("/notifications/"+n.ID+"/answer", url.Values{"csrf_token": {token}, "agent_response_to_customer": {"we exchange them for free"}, "resolution_notes": {""}}); st != http.StatusSeeOther {
			t.Fatalf("answer = %d\n%s", st, body)
		}
		got := e.get(n.ID)
		if got.Status != parley.NotificationAnswered || !strings.HasPrefix(got.AnsweredBy, "dashboard:") || got.Answered["agent_response_to_customer"] != "we exchange them for free" {
			t.Fatalf("after the form: %s", mustJSON(got))
		}
		if s := e.sentTo(conv.ContactPhone, 1)[0]; s.Template == nil || s.Template.Name != "customer_support_response" {
			t.Fatalf("customer got %+v", s)
		}
		page = b.get("/notifications/" + n.ID)
		if strings.Contains(page, `id="answer-form"`) || !strings.Contains(page, "we exchange them for free") {
			t.Fatalf("answered page still offers the form or lacks the answer:\n%s", page)
		}
		// Who answered, by name, not by a stored reference.
		if !strings.Contains(page, `<small id="answered-by">by User (dashboard)`) || strings.Contains(page, "dashboard:") {
			t.Fatalf("the answered page does not name who answered:\n%s", page)
		}
		if !strings.Contains(b.get("/notifications?status=answered"), "NOTIF_1") {
			t.Fatal("the answered history lacks NOTIF_1")
		}
		// A second answer (another tab) is refused.
		if st, body := b.post("/notifications/"+n.ID+"/answer", url.Values{"csrf_token": {token}, "agent_response_to_customer": {"no"}}); st != http.StatusConflict || !strings.Contains(body, "already answered") {
			t.Fatalf("second answer = %d\n%s", st, body)
		}

		// Another tenant's user sees none of it.
		other, _ := e.Tenant("Other")
		ob := e.browser("owner@other.test", other.ID)
		if st, _ := ob.do(http.MethodGet, "/notifications/"+n.ID, nil); st != http.StatusNotFound {
			t.Fatalf("another tenant's notification = %d", st)
		}
		if strings.Contains(ob.get("/notifications?status=all"), "NOTIF_1") {
			t.Fatal("another tenant lists NOTIF_1")
		}
	})
}

package twiliotest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/channel/twilio"
	"github.com/parleyhq/parley/channel/twilio/twiliotest"
	"github.com/parleyhq/parley/clock"
)

const (
	acct  = "AC0123456789abcdef0123456789abcdef"
	token = "auth-token"
	path  = "/2010-04-01/Accounts/" + acct + "/Messages.json"
)

var epoch = time.Date(2025, 10, 9, 10, 0, 0, 0, time.UTC)

// post sends a raw request to the fake and decodes its JSON answer.
func post(t *testing.T, fake *twiliotest.Server, method, p, user, pass, contentType, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, fake.URL+p, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return resp.StatusCode, out
}

const formType = "application/x-www-form-urlencoded"

func TestFakeRefusesWhatTwilioWould(t *testing.T) {
	good := url.Values{"From": {"whatsapp:+15550001111"}, "To": {"whatsapp:+5511999990000"}, "Body": {"hi"}}
	with := func(set url.Values, del ...string) string {
		f := url.Values{}
		for k, v := range good {
			f[k] = v
		}
		for _, k := range del {
			f.Del(k)
		}
		for k, v := range set {
			f[k] = v
		}
		return f.Encode()
	}
	tests := []struct {
		name, method, path, user, pass, ctype, body string
		status                                      int
		code                                        float64 // 0: the fake's own stricter check, no code
	}{
		{"wrong path", "POST", "/2010-04-01/Accounts/" + acct + "/Calls.json", acct, token, formType, with(nil), 404, 20404},
		{"GET", "GET", path, acct, token, formType, "", 405, 20004},
		{"no auth", "POST", path, "", "", formType, with(nil), 401, 20003},
		{"wrong token", "POST", path, acct, "nope", formType, with(nil), 401, 20003},
		{"other account's path", "POST", "/2010-04-01/Accounts/AC99999999999999999999999999999999/Messages.json", acct, token, formType, with(nil), 401, 20003},
		{"JSON body", "POST", path, acct, token, "application/json", `{"To":"whatsapp:+5511999990000"}`, 400, 21604},
		{"no To", "POST", path, acct, token, formType, with(nil, "To"), 400, 21604},
		{"To without whatsapp:", "POST", path, acct, token, formType, with(url.Values{"To": {"+5511999990000"}}), 400, 21211},
		{"To not E.164", "POST", path, acct, token, formType, with(url.Values{"To": {"whatsapp:+55 11 99999-0000"}}), 400, 21211},
		{"no From", "POST", path, acct, token, formType, with(nil, "From"), 400, 21603},
		{"From not WhatsApp", "POST", path, acct, token, formType, with(url.Values{"From": {"+15550001111"}}), 400, 21212},
		{"From and Messaging Service", "POST", path, acct, token, formType, with(url.Values{"MessagingServiceSid": {"MG0123456789abcdef0123456789abcdef"}}), 400, 0},
		{"no body", "POST", path, acct, token, formType, with(nil, "Body"), 400, 21602},
		{"body too long", "POST", path, acct, token, formType, with(url.Values{"Body": {strings.Repeat("é", 1601)}}), 400, 21617},
		{"template with body", "POST", path, acct, token, formType, with(url.Values{"ContentSid": {"HX0123456789abcdef0123456789abcdef"}}), 400, 0},
		{"ContentSid not HX", "POST", path, acct, token, formType, with(url.Values{"ContentSid": {"template_name"}}, "Body"), 400, 0},
		{"ContentVariables not JSON", "POST", path, acct, token, formType,
			with(url.Values{"ContentSid": {"HX0123456789abcdef0123456789abcdef"}, "ContentVariables": {"1=Ana"}}, "Body"), 400, 21656},
		{"ContentVariables not strings", "POST", path, acct, token, formType,
			with(url.Values{"ContentSid": {"HX0123456789abcdef0123456789abcdef"}, "ContentVariables": {`{"1":1}`}}, "Body"), 400, 21656},
		{"ContentVariables without ContentSid", "POST", path, acct, token, formType, with(url.Values{"ContentVariables": {`{"1":"a"}`}}), 400, 0},
		{"unknown parameter", "POST", path, acct, token, formType, with(url.Values{"Bdy": {"typo"}}), 400, 0},
		{"repeated To", "POST", path, acct, token, formType, with(url.Values{"To": {"whatsapp:+5511999990000", "whatsapp:+5511999990001"}}), 400, 0},
		{"StatusCallback not a URL", "POST", path, acct, token, formType, with(url.Values{"StatusCallback": {"/relative"}}), 400, 21609},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := twiliotest.New()
			defer fake.Close()
			fake.AddAccount(acct, token)
			status, body := post(t, fake, tt.method, tt.path, tt.user, tt.pass, tt.ctype, tt.body)
			if status != tt.status {
				t.Errorf("status %d, want %d (%v)", status, tt.status, body)
			}
			code, _ := body["code"].(float64)
			if code != tt.code || body["message"] == "" || body["status"] != float64(tt.status) {
				t.Errorf("body %v, want code %v and Twilio's error shape", body, tt.code)
			}
			if n := len(fake.Messages()); n != 0 {
				t.Errorf("%d messages recorded, want none", n)
			}
		})
	}
}

func TestFakeAnswersLikeTwilio(t *testing.T) {
	fake := twiliotest.NewWithClock(clock.NewFake(epoch))
	defer fake.Close()
	fake.AddAccount(acct, token)
	form := url.Values{"From": {"whatsapp:+15550001111"}, "To": {"whatsapp:+5511999990000"}, "Body": {"hi"}}
	status, body := post(t, fake, "POST", path, acct, token, formType, form.Encode())
	if status != http.StatusCreated {
		t.Fatalf("status %d: %v", status, body)
	}
	sid, _ := body["sid"].(string)
	want := map[string]any{
		"account_sid": acct, "from": "whatsapp:+15550001111", "to": "whatsapp:+5511999990000", "body": "hi",
		"status": "queued", "direction": "outbound-api", "num_media": "0", "error_code": nil,
		"messaging_service_sid": nil, "date_created": "Thu, 09 Oct 2025 10:00:00 +0000",
		"uri": "/2010-04-01/Accounts/" + acct + "/Messages/" + sid + ".json",
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("%s = %#v, want %#v", k, body[k], v)
		}
	}
	if !strings.HasPrefix(sid, "SM") || len(sid) != 34 {
		t.Errorf("sid %q is not Twilio-shaped", sid)
	}
}

func TestFakeSIDsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 2 { // across fakes too: a load generator may run several
		fake := twiliotest.New()
		fake.AddAccount(acct, token)
		c := twilio.NewClient(fake.URL, 5*time.Second)
		for range 20 {
			sid, err := c.Send(context.Background(), acct, token, "+15550001111", "+5511999990000", twilio.Outbound{Body: "x"})
			if err != nil || seen[sid] {
				t.Fatalf("sid %q (duplicate: %v), err %v", sid, seen[sid], err)
			}
			seen[sid] = true
		}
		fake.Close()
	}
}

func TestFakeScriptedFailures(t *testing.T) {
	fake := twiliotest.New()
	defer fake.Close()
	fake.AddAccount(acct, token)
	fake.FailNext(twiliotest.ServerError(503), twiliotest.TooManyRequests("3"))
	fake.FailWhen(func(m twiliotest.Message) bool { return m.To == "whatsapp:+5511999990009" }, twiliotest.OutsideWindow())
	c := twilio.NewClient(fake.URL, 5*time.Second)
	send := func(to string) error {
		_, err := c.Send(context.Background(), acct, token, "+15550001111", to, twilio.Outbound{Body: "x"})
		return err
	}
	codes := func(err error) int {
		if se, ok := err.(*twilio.SendError); ok {
			return se.Code
		}
		return 0
	}
	// Queued failures come in order, then the rule, then success.
	for i, want := range []int{20500, 20429, 63016} {
		if got := codes(send("+5511999990009")); got != want {
			t.Fatalf("send %d: code %d, want %d", i, got, want)
		}
	}
	if err := send("+5511999990000"); err != nil {
		t.Fatalf("unmatched send failed: %v", err)
	}
	if got := codes(send("+5511999990009")); got != 63016 {
		t.Fatalf("rule stopped matching: code %d", got)
	}
	if n := fake.Requests(); n != 5 {
		t.Errorf("Requests = %d, want 5", n)
	}
}

func TestFakeWaitForMessages(t *testing.T) {
	fake := twiliotest.New()
	defer fake.Close()
	fake.AddAccount(acct, token)
	c := twilio.NewClient(fake.URL, 5*time.Second)

	const n = 25
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := c.Send(context.Background(), acct, token, "+15550001111", "+5511999990000", twilio.Outbound{Body: "x"}); err != nil {
				t.Error(err)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := fake.WaitForMessages(ctx, n)
	if err != nil || len(got) != n {
		t.Fatalf("WaitForMessages = %d messages, %v", len(got), err)
	}
	wg.Wait()

	// Asking for more than will come ends with the context, not a hang.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	got, err = fake.WaitForMessages(ctx, n+1)
	if err == nil || len(got) != n {
		t.Fatalf("WaitForMessages past the end = %d messages, %v", len(got), err)
	}
}

func TestSignedWebhooksParse(t *testing.T) {
	const hook = "https://parley.example/webhooks/twilio/ch_1?x=1"
	form := twiliotest.InboundText(acct, "+5511999990000", "+15550001111", "Ana Lima", "Is my order ready?")
	req, err := twiliotest.NewWebhookRequest(context.Background(), token, hook, form)
	if err != nil {
		t.Fatal(err)
	}
	// What the receiving side does: read the form, check, parse.
	if err := req.ParseForm(); err != nil {
		t.Fatal(err)
	}
	if !twilio.ValidateSignature(token, hook, req.PostForm, req.Header.Get(twilio.SignatureHeader)) {
		t.Fatal("signature does not validate")
	}
	if twilio.ValidateSignature("other-token", hook, req.PostForm, req.Header.Get(twilio.SignatureHeader)) {
		t.Fatal("signature validates with another token")
	}
	ev, err := twilio.Parse(req.PostForm)
	if err != nil {
		t.Fatal(err)
	}
	in := ev.Inbound
	if in == nil || in.From != "+5511999990000" || in.To != "+15550001111" || in.Content != "Is my order ready?" ||
		in.ProfileName != "Ana Lima" || in.MessageID != form.Get("MessageSid") || in.AccountSID != acct {
		t.Fatalf("parsed %+v", in)
	}
	if again := twiliotest.InboundText(acct, "+5511999990000", "+15550001111", "Ana", "x"); again.Get("MessageSid") == in.MessageID {
		t.Error("two inbound forms share a MessageSid")
	}

	st, err := twilio.Parse(twiliotest.StatusCallback(acct, "SM89abcdef0123456789abcdef01234567", "undelivered", 63016, "+15550001111", "+5511999990000"))
	if err != nil || st.Status == nil || st.Status.Status != "failed" || st.Status.ErrorCode != "63016" {
		t.Fatalf("status callback parsed as %+v, %v", st, err)
	}
}

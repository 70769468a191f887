package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel/twilio/twiliotest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/dashboard"
	"github.com/parleyhq/parley/leads"
	"github.com/parleyhq/parley/llm/llmtest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// The secrets of a realistic session, each unlike anything else in it.
const (
	secWAToken     = "EAAG-secret-wa-token-4f1d9c"
	secAppSecret   = "meta-app-secret-8b2e71"
	secVerifyToken = "verify-token-secret-3a6c"
	secTwilioToken = "twilio-auth-secret-5e0b2f"
	secLLMKey      = "sk-llm-secret-7c3a19"
	secSMTPPass    = "smtp-password-secret-2d8f"
	secSMTPWrong   = "smtp-wrong-secret-9a1c"
	secUserPass    = "user-password-secret-6b4e"
	twilioSID      = "AC0123456789abcdef0123456789abcdef"
	secNumberID    = "106000000000456"
)

// Access tokens, API keys, app secrets, SMTP and user passwords never show
// in the logs, in any API answer, or on any dashboard page, through a whole
// session: channels created and checked, signed (and forged) webhooks,
// answers sent, a token Meta no longer accepts, Twilio sends and a refusal,
// the LLM, lead e-mails (and an SMTP server refusing the password), API
// keys made and revoked, and dashboard sign-ins (and a wrong password).
func TestSecretsNeverShow(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		graph := whatsapptest.NewFakeGraph()
		t.Cleanup(graph.Close)
		graph.AddNumber(whatsapptest.Number{ID: secNumberID, Token: secWAToken, Display: "+1 555-000-0456", VerifiedName: "Acme"})
		tw := twiliotest.New()
		t.Cleanup(tw.Close)
		tw.AddAccount(twilioSID, secTwilioToken)
		model := llmtest.Start(llmtest.Options{APIKey: secLLMKey, Responder: func(r llmtest.Request) llmtest.Reply {
			if r.HasSchema("customer_answer") {
				return llmtest.JSON(map[string]any{"answer": "We open at 9.", "open_ticket": false, "reason": "hours"})
			}
			return llmtest.DefaultResponder(r)
		}})
		t.Cleanup(model.Close)
		mail := startSMTP(t, secSMTPPass)
		p := apptest.Start(t, engine, nil, func(c *config.Config) {
			c.WhatsAppGraphURL, c.WhatsAppAppSecret, c.WhatsAppVerifyToken = graph.URL, secAppSecret, secVerifyToken
			c.TwilioBaseURL = tw.URL
			c.LLMBaseURL, c.LLMAPIKey, c.LLMModel = model.URL, secLLMKey, "fake"
			c.OutboundAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} // the SMTP servers are on loopback
		})
		tn, key := p.Tenant("Acme")
		var answers bytes.Buffer // every API answer of the session
		call := func(method, path string, body any, want int) map[string]any {
			t.Helper()
			r := p.Do(method, path, key, body)
			if want != 0 && r.Status != want {
				t.Fatalf("%s %s = %d %s", method, path, r.Status, r.Body)
			}
			answers.Write(r.Body)
			answers.WriteByte('\n')
			var m map[string]any
			_ = json.Unmarshal(r.Body, &m)
			return m
		}

		// Channels: created, and the WhatsApp one checked with Meta.
		wa := call("POST", "/api/channels", map[string]any{"type": "whatsapp", "name": "Main", "phone_number_id": secNumberID, "access_token": secWAToken}, 201)
		twc := call("POST", "/api/channels", map[string]any{"type": "twilio", "name": "Twilio", "display_number": "+15550001111",
			"settings": map[string]string{"account_sid": twilioSID, "auth_token": secTwilioToken}}, 201)
		call("POST", "/api/customers", map[string]any{"phone": "+5511999990000", "name": "Ana"}, 201)
		call("POST", "/api/documents", map[string]any{"title": "Hours", "body": "We open at 9."}, 201)
		apptest.Eventually(t, "the channel check", func() bool {
			c, _ := p.Store.GetChannel(context.Background(), tn.ID, wa["id"].(string))
			return c.Settings["check"] != ""
		})

		// The verify handshake, a signed message answered, a forged one refused.
		res, err := http.Get(p.URL() + "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=" + secVerifyToken + "&hub.challenge=42")
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("verify handshake: %v %v", res, err)
		}
		res.Body.Close()
		postWA := func(id, text, secret string) int {
			body := whatsapptest.TextWebhook(whatsapptest.Inbound{PhoneNumberID: secNumberID, From: "5511999990000", Name: "Ana", ID: id, Time: time.Now()}, text)
			status, err := whatsapptest.Post(p.URL(), secret, body)
			if err != nil {
				t.Fatal(err)
			}
			return status
		}
		if code := postWA("wamid.SEC1", "When do you open?", secAppSecret); code != 200 {
			t.Fatalf("signed webhook = %d", code)
		}
		if code := postWA("wamid.SEC2", "forged", "not-the-secret"); code != 401 {
			t.Fatalf("forged webhook = %d", code)
		}
		if _, err := graph.WaitSent(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		// Meta stops accepting the token: the next answer fails with 190.
		graph.AddNumber(whatsapptest.Number{ID: secNumberID, Token: "rotated-elsewhere", Display: "+1 555-000-0456"})
		if code := postWA("wamid.SEC3", "And on Sundays?", secAppSecret); code != 200 {
			t.Fatalf("signed webhook = %d", code)
		}
		apptest.Eventually(t, "the send refused by Meta", func() bool { return strings.Contains(p.Logs.String(), `"code":"190"`) })

		// Twilio: a signed inbound message answered, then a refusal.
		twID := twc["id"].(string)
		postTW := func(text string) {
			path := "/webhooks/twilio/" + twID
			req, err := twiliotest.NewWebhookRequest(context.Background(), secTwilioToken, p.URL()+path, twiliotest.InboundText(twilioSID, "+5511988887777", "+15550001111", "Bia", text))
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("twilio webhook: %v %v", res, err)
			}
			res.Body.Close()
		}
		postTW("Hi there")
		if _, err := tw.WaitForMessages(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		tw.FailNext(twiliotest.Failure{Status: 401, Code: 20003, Message: "Authenticate"})
		postTW("Hello again")
		apptest.Eventually(t, "the send refused by Twilio", func() bool { return strings.Contains(p.Logs.String(), "20003") })

		// Lead e-mails: one site's SMTP server takes the password, the
		// other's refuses it.
		host, port, _ := net.SplitHostPort(mail.addr)
		portN, _ := strconv.Atoi(port)
		for i, pass := range []string{secSMTPPass, secSMTPWrong} {
			site := call("POST", "/api/sites", map[string]any{"name": "Site " + strconv.Itoa(i), "url": "https://acme.example",
				"email": map[string]any{"host": host, "port": portN, "username": "sales@acme.example", "password": pass,
					"from_address": "sales@acme.example", "tls": "none"}}, 201)
			lead := call("POST", "/api/leads", map[string]any{"site_id": site["id"], "name": "Jane Smith", "email": "jane@acme.com"}, 201)
			call("POST", "/api/site-agents", map[string]any{"site_id": site["id"], "role": "sales", "name": "Sam"}, 201)
			call("POST", leads.FollowUpPath, map[string]any{"siteId": site["id"], "leadId": lead["id"], "schedule": true}, 200)
			call("GET", "/api/sites/"+site["id"].(string), nil, 200)
			call("GET", "/api/leads/"+lead["id"].(string)+"/sequence", nil, 200)
			call("GET", "/api/leads/"+lead["id"].(string)+"/events", nil, 200)
		}
		apptest.Eventually(t, "the lead e-mail", func() bool { return mail.count() == 1 })
		apptest.Eventually(t, "the refused e-mail", func() bool { return strings.Contains(p.Logs.String(), "535") })

		// API keys: one made (its secret is shown once, in that answer
		// only) and revoked.
		made := p.Do("POST", "/api/api-keys", key, map[string]any{"name": "ci"})
		var mk struct{ ID, Key string }
		made.JSON(t, &mk)
		if mk.Key == "" || mk.ID == "" {
			t.Fatalf("api key: %s", made.Body)
		}
		call("DELETE", "/api/api-keys/"+mk.ID, nil, 0)
		if r := p.Do("GET", "/api/tenant", mk.Key, nil); r.Status != 401 {
			t.Fatalf("revoked key = %d", r.Status)
		}

		// Every GET the API offers, with the session's ids.
		ids := map[string]string{"/api/channels": wa["id"].(string)}
		for _, col := range []string{"/api/conversations", "/api/tickets", "/api/sites", "/api/leads", "/api/commands", "/api/jobs", "/api/customers", "/api/documents"} {
			m := call("GET", col+"?limit=200", nil, 0)
			items, _ := m["items"].([]any)
			if len(items) > 0 {
				ids[col] = fmt.Sprint(items[0].(map[string]any)["id"])
			}
		}
		var doc struct {
			Paths map[string]map[string]json.RawMessage `json:"paths"`
		}
		p.Do("GET", "/openapi.json", "", nil).JSON(t, &doc)
		for path, ops := range doc.Paths {
			if _, ok := ops["get"]; !ok || !strings.HasPrefix(path, "/api/") {
				continue
			}
			if i := strings.Index(path, "/{id}"); i >= 0 {
				id, ok := ids[path[:i]]
				if !ok {
					continue
				}
				path = strings.Replace(path, "{id}", id, 1)
			}
			call("GET", path, nil, 0)
		}
		call("GET", "/api/channels/"+twID, nil, 200)

		// The dashboard: a wrong password, then a session through the pages.
		if _, err := dashboard.CreateUser(context.Background(), p.Store, dashboard.NewUser{TenantID: tn.ID, Email: "ana@acme.test", Name: "Ana",
			Role: parley.UserAdmin, Password: secUserPass}); err != nil {
			t.Fatal(err)
		}
		pages := browse(t, p.URL(), "ana@acme.test", []string{"/", "/settings/channels", "/settings/channels/" + wa["id"].(string),
			"/settings/channels/" + twID, "/settings/api-keys", "/settings/tenant", "/leads", "/tickets?view=all", "/conversations/" + ids["/api/conversations"]})

		logs := p.Logs.String()
		// The session went through what it claims, or the test proves nothing.
		for _, step := range []string{`"msg":"channel checked"`, `"msg":"message sent"`, `"msg":"message not sent"`, `"msg":"sequence step failed"`,
			`"msg":"dashboard sign-in refused"`, `"msg":"dashboard sign-in"`, "wrong signature refused"} {
			if !strings.Contains(logs, step) {
				t.Errorf("the session never logged %s", step)
			}
		}
		secrets := map[string]string{"WhatsApp access token": secWAToken, "Meta app secret": secAppSecret, "verify token": secVerifyToken,
			"Twilio auth token": secTwilioToken, "LLM API key": secLLMKey, "SMTP password": secSMTPPass, "wrong SMTP password": secSMTPWrong,
			"user password": secUserPass, "tenant API key": key, "made API key": mk.Key,
			"Twilio basic auth": base64.StdEncoding.EncodeToString([]byte(twilioSID + ":" + secTwilioToken)),
			"SMTP PLAIN auth":   base64.StdEncoding.EncodeToString([]byte("\x00sales@acme.example\x00" + secSMTPPass))}
		for name, s := range secrets {
			for where, text := range map[string]string{"the logs": logs, "an API answer": answers.String(), "a dashboard page": pages} {
				if strings.Contains(text, s) {
					i := strings.Index(text, s)
					t.Errorf("the %s shows in %s: …%s…", name, where, text[max(0, i-200):min(len(text), i+len(s)+50)])
				}
			}
		}
	})
}

// browse signs in with a wrong password, then the right one, and returns
// the pages visited.
func browse(t *testing.T, base, email string, paths []string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) string {
		res, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	var out strings.Builder
	for _, pass := range []string{"not-" + secUserPass, secUserPass} {
		form := get("/signin")
		i := strings.Index(form, `name="csrf_token" value="`)
		if i < 0 {
			t.Fatalf("no csrf token on the sign-in form:\n%s", form)
		}
		token := form[i+len(`name="csrf_token" value="`):]
		token = token[:strings.Index(token, `"`)]
		res, err := c.PostForm(base+"/signin", url.Values{"csrf_token": {token}, "email": {email}, "password": {pass}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		out.Write(b)
	}
	for _, p := range paths {
		out.WriteString(get(p))
	}
	if !strings.Contains(out.String(), "Sign out") {
		t.Fatalf("never signed in:\n%s", out.String()[:min(out.Len(), 2000)])
	}
	return out.String()
}

// smtpServer is a real SMTP server on loopback that takes one password.
type smtpServer struct {
	addr     string
	password string
	mu       sync.Mutex
	n        int
}

func (s *smtpServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func startSMTP(t *testing.T, password string) *smtpServer {
	s := &smtpServer{password: password}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s: s}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

type smtpSession struct{ s *smtpServer }

func (x *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (x *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, _, password string) error {
		if password != x.s.password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		return nil
	}), nil
}
func (x *smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (x *smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (x *smtpSession) Data(r io.Reader) error {
	_, _ = io.Copy(io.Discard, r)
	x.s.mu.Lock()
	x.s.n++
	x.s.mu.Unlock()
	return nil
}
func (x *smtpSession) Reset()        {}
func (x *smtpSession) Logout() error { return nil }

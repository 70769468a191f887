package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/llm/llmtest"
	"github.com/parleyhq/parley/notify"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

const (
	pnID       = "106000000000031"
	graphToken = "token-notify"
	appSecret  = "app_secret_notify"
)

// env is a whole Parley (apptest) wired to a fake Graph API and, unless
// offline, a fake OpenAI-compatible LLM that plays the AI agent, the
// classifier and the localizer (see respond). One tenant with a WhatsApp
// channel.
type env struct {
	*apptest.Parley
	t      *testing.T
	clk    *clock.Fake
	graph  *whatsapptest.FakeGraph
	llm    *llmtest.Server // nil offline
	tenant parley.Tenant
	key    string
	wa     parley.Channel

	mu       sync.Mutex
	classify func(reason string) (target, label string)
}

type options struct {
	offline bool
	dsn     string // run on this database; default a fresh one
	// second runs another process on first's database, tenant and fakes.
	first *env
}

func eachEngine(t *testing.T, o options, fn func(t *testing.T, e *env)) {
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		o := o
		if o.dsn == "" {
			o.dsn = storetest.DSN(t, engine)
		}
		fn(t, start(t, o))
	})
}

func start(t *testing.T, o options) *env {
	t.Helper()
	// The fake clock starts at the wall clock: River's rescuer reads the
	// wall clock and must not take running jobs for stuck ones. Tests set
	// the customer's last message relative to it instead of moving it.
	e := &env{t: t, clk: clock.NewFake(time.Now().UTC().Truncate(time.Second))}
	if f := o.first; f != nil {
		e.clk, e.graph, e.llm, e.classify = f.clk, f.graph, f.llm, f.classify
		e.Parley = apptest.StartOn(t, o.dsn, e.clk, func(c *config.Config) { *c = withDSN(f.Config, o.dsn) })
		e.tenant, e.key, e.wa = f.tenant, f.key, f.wa
		return e
	}
	e.graph = whatsapptest.NewFakeGraph()
	t.Cleanup(e.graph.Close)
	e.graph.AddNumber(whatsapptest.Number{ID: pnID, Token: graphToken, Display: "+1 555-000-3131"})
	if !o.offline {
		e.llm = llmtest.Start(llmtest.Options{APIKey: "sk-test", Responder: e.respond})
		t.Cleanup(e.llm.Close)
	}
	e.Parley = apptest.StartOn(t, o.dsn, e.clk, func(c *config.Config) {
		c.WhatsAppGraphURL, c.WhatsAppAppSecret = e.graph.URL, appSecret
		c.LLMTimeout = 5 * time.Second
		if e.llm != nil {
			c.LLMBaseURL, c.LLMAPIKey, c.LLMModel = e.llm.URL, "sk-test", "test-model"
		}
	})
	e.ShowLogsOnFailure(t)
	e.tenant, e.key = e.Tenant("Acme")
	wa, err := e.Store.CreateChannel(context.Background(), parley.Channel{TenantID: e.tenant.ID, Type: parley.ChannelWhatsApp, Name: "wa",
		PhoneNumberID: pnID, AccessToken: graphToken, Active: true, Settings: map[string]string{parley.SettingCheck: parley.CheckOK}})
	if err != nil {
		t.Fatal(err)
	}
	e.wa = wa
	return e
}

var (
	notifLine = regexp.MustCompile(`^NOTIF_(\d+): (.+)$`)
	wording   = regexp.MustCompile(`A faithful wording: "(.*)"$`)
	langOf    = regexp.MustCompile(`customer's language \(([^)]+)\)`)
)

// respond plays the model. Classification and localization by their
// system prompts; the AI agent by the conversation: "Q: …" and
// "SUPPORT: …" from a customer raise a notification, "NOTIF_<n>: …" from a
// staff member answers it, a staff answer note is turned into a reply.
func withDSN(c config.Config, dsn string) config.Config {
	c.DatabaseURL, c.Addr = dsn, "127.0.0.1:0"
	return c
}

func (e *env) respond(r llmtest.Request) llmtest.Reply {
	sys := r.System()
	switch {
	case strings.Contains(sys, "route a business's support requests"):
		e.mu.Lock()
		fn := e.classify
		e.mu.Unlock()
		target, label := "", ""
		if fn != nil {
			target, label = fn(r.LastUser())
		}
		// "a,b" plays a classification to several types.
		types := strings.Split(target, ",")
		if target == "" {
			types = []string{}
		}
		return llmtest.JSON(map[string]any{"target_user_types": types, "support_request_type": label})
	case strings.Contains(sys, "rewrite a business's staff answer"):
		lang := langOf.FindStringSubmatch(sys)[1]
		_, text, _ := strings.Cut(r.LastUser(), "Staff answer:\n")
		return llmtest.JSON(map[string]any{"continuation_fragment": "[" + lang + "] " + text, "full_sentence": "[" + lang + "] " + text + "."})
	}
	last := r.Messages[len(r.Messages)-1]
	switch {
	case last.Role == "tool" && strings.HasPrefix(last.Content, "error:"):
		return agentAnswer("Sorry: " + strings.TrimPrefix(last.Content, "error: "))
	case last.Role == "tool":
		return agentAnswer("Thanks, noted.")
	case last.Role == "system":
		if m := wording.FindStringSubmatch(last.Content); m != nil {
			return agentAnswer("Good news! " + m[1])
		}
	}
	user := r.LastUser()
	tools := r.ToolNames()
	if m := notifLine.FindStringSubmatch(user); m != nil && slices.Contains(tools, notify.ToolAnswer) {
		return llmtest.Calls(llmtest.Call("call_answer", notify.ToolAnswer, map[string]any{
			"notification_id": "NOTIF_" + m[1], "answer": m[2], "agent_response_to_customer": m[2]}))
	}
	if q, ok := strings.CutPrefix(user, "Q: "); ok && slices.Contains(tools, notify.ToolRequest) {
		return llmtest.Calls(llmtest.Call("call_raise", notify.ToolRequest, map[string]any{"type": "user_question_request", "text": q}))
	}
	if q, ok := strings.CutPrefix(user, "SUPPORT: "); ok && slices.Contains(tools, notify.ToolRequest) {
		return llmtest.Calls(llmtest.Call("call_raise", notify.ToolRequest, map[string]any{"type": "user_support_request", "text": q}))
	}
	return agentAnswer("How can I help?")
}

func agentAnswer(text string) llmtest.Reply {
	return llmtest.JSON(map[string]any{"reason": "test", "answer": text, "open_ticket": false})
}

// requestsTo returns the LLM requests whose system prompt contains s.
func (e *env) requestsTo(s string) []llmtest.Request {
	var out []llmtest.Request
	for _, r := range e.llm.Requests() {
		if strings.Contains(r.System(), s) {
			out = append(out, r)
		}
	}
	return out
}

func (e *env) staff(name, phone, typ string) parley.StaffMember {
	e.t.Helper()
	m, err := e.Store.CreateStaffMember(context.Background(), parley.StaffMember{TenantID: e.tenant.ID, Name: name, Phone: phone, Type: typ})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func (e *env) document(category, title, body string) parley.Document {
	e.t.Helper()
	d, err := e.Store.CreateDocument(context.Background(), parley.Document{TenantID: e.tenant.ID, Category: category, Title: title, Body: body})
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// customerConv opens a customer conversation on the WhatsApp channel whose
// customer last wrote `ago` before now (nil: never).
func (e *env) customerConv(phone string, ago *time.Duration) parley.Conversation {
	e.t.Helper()
	return e.Conversation(parley.Conversation{TenantID: e.tenant.ID, Kind: parley.KindCustomer, ContactPhone: phone, ChannelID: e.wa.ID,
		Language: "en"}, e.clk.Now(), ago)
}

func ago(d time.Duration) *time.Duration { return apptest.Ago(d) }

// raise asks for a notification through the API and waits for the
// request job to store it.
func (e *env) raise(convID string, typ parley.NotificationType, ctx map[string]string) parley.Notification {
	e.t.Helper()
	r := e.Do(http.MethodPost, "/api/notifications", e.key, map[string]any{"type": typ, "conversation_id": convID, "context": ctx})
	if r.Status != http.StatusAccepted {
		e.t.Fatalf("raise: %d %s", r.Status, r.Body)
	}
	id := r.Map(e.t)["id"].(string)
	return e.waitNotification(id)
}

func (e *env) waitNotification(id string) parley.Notification {
	e.t.Helper()
	var n parley.Notification
	apptest.Eventually(e.t, "notification "+id+" stored", func() bool {
		r := e.Do(http.MethodGet, "/api/notifications/"+id, e.key, nil)
		if r.Status != http.StatusOK {
			return false
		}
		r.JSON(e.t, &n)
		return true
	})
	// The recipient list is kept just after the request's commit.
	e.settle()
	return e.get(id)
}

func (e *env) get(id string) parley.Notification {
	e.t.Helper()
	var n parley.Notification
	r := e.Do(http.MethodGet, "/api/notifications/"+id, e.key, nil)
	if r.Status != http.StatusOK {
		e.t.Fatalf("get notification: %d %s", r.Status, r.Body)
	}
	r.JSON(e.t, &n)
	return n
}

func (e *env) answer(id string, body any) apptest.Response {
	e.t.Helper()
	return e.Do(http.MethodPost, "/api/notifications/"+id+"/answer", e.key, body)
}

// settle waits until no job is left to run.
func (e *env) settle() { e.t.Helper(); e.Settle() }

// sentTo waits until the fake Graph API has n messages to phone (E.164)
// and returns them in order.
func (e *env) sentTo(phone string, n int) []whatsapptest.SentMessage {
	e.t.Helper()
	var out []whatsapptest.SentMessage
	apptest.Eventually(e.t, fmt.Sprintf("%d messages sent to %s", n, phone), func() bool {
		out = e.sent(phone)
		return len(out) >= n
	})
	e.settle()
	if out = e.sent(phone); len(out) != n {
		e.t.Fatalf("%d messages sent to %s, want %d: %+v", len(out), phone, n, out)
	}
	return out
}

func (e *env) sent(phone string) []whatsapptest.SentMessage {
	return e.graph.SentTo(phone)
}

func (e *env) messages(convID string) []parley.Message {
	e.t.Helper()
	return e.Messages(e.tenant.ID, convID)
}

// staffConv is the staff member's open staff conversation.
func (e *env) staffConv(m parley.StaffMember) parley.Conversation {
	e.t.Helper()
	c, err := e.Store.OpenConversationByContact(context.Background(), e.tenant.ID, parley.KindStaff, m.Phone)
	if err != nil {
		e.t.Fatalf("staff conversation of %s: %v", m.Name, err)
	}
	return c
}

// whatsApp delivers a text from phone to the tenant's number, signed as Meta does.
func (e *env) whatsApp(phone, text string) {
	e.t.Helper()
	body := whatsapptest.TextWebhook(whatsapptest.Inbound{PhoneNumberID: pnID, From: strings.TrimPrefix(phone, "+"), Name: "Contact", Time: e.clk.Now()}, text)
	whatsapptest.MustPost(e.t, e.URL(), appSecret, body)
}

func systemNotes(ms []parley.Message) []string {
	var out []string
	for _, m := range ms {
		if m.Role == parley.RoleSystem {
			out = append(out, m.Content)
		}
	}
	return out
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// onlyNotification waits until the list of notifications (with query, e.g.
// "?status=requested") holds exactly one, and returns it once stored with
// its recipients.
func (e *env) onlyNotification(query string) parley.Notification {
	e.t.Helper()
	var list struct{ Items []parley.Notification }
	apptest.Eventually(e.t, "the notification", func() bool {
		e.Do(http.MethodGet, "/api/notifications"+query, e.key, nil).JSON(e.t, &list)
		return len(list.Items) == 1
	})
	return e.waitNotification(list.Items[0].ID)
}

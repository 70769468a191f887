package channel_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/store"
)

func TestWhatsAppHandshake(t *testing.T) {
	t.Parallel()
	e := start(t, store.SQLite, nil)
	cases := []struct {
		name   string
		query  url.Values
		status int
		body   string
	}{
		{"right token", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {verifyToken}, "hub.challenge": {"1158201444"}}, 200, "1158201444"},
		{"wrong token", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {"guess"}, "hub.challenge": {"1158201444"}}, 403, ""},
		{"wrong mode", url.Values{"hub.mode": {"unsubscribe"}, "hub.verify_token": {verifyToken}, "hub.challenge": {"1"}}, 403, ""},
		{"no token", url.Values{"hub.mode": {"subscribe"}, "hub.challenge": {"1"}}, 403, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := http.Get(e.URL() + "/webhooks/whatsapp?" + c.query.Encode())
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d", res.StatusCode, c.status)
			}
			if c.status == 200 && (string(b) != c.body || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain")) {
				t.Fatalf("answer %q (%s), want the challenge as text/plain", b, res.Header.Get("Content-Type"))
			}
		})
	}
}

// Steps 1–2 of the flow (see the package comment): a signed text from a known customer lands in her open
// conversation with both received events, the second carrying her info.
func TestKnownCustomerTextIsReceived(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cust, err := e.Store.CreateCustomer(ctx, parley.Customer{TenantID: e.tenant.ID, Phone: anaE164, Name: "Ana Lima", Language: "pt", Email: "ana@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		sent := e.clk.Now()
		e.deliver(e.text("wamid.K1", ana, "Ana L.", "Hi, is my order ready?"))

		m := e.message("wamid.K1")
		if m.Role != parley.RoleCustomer || m.Type != parley.MessageText || m.Content != "Hi, is my order ready?" || m.Status != parley.StatusReceived {
			t.Fatalf("message = %+v", m)
		}
		conv := e.conversation(m.ConversationID)
		if conv.Status != parley.ConversationOpen || conv.CustomerID != cust.ID || conv.ChannelID != e.ch.ID || conv.ContactPhone != anaE164 ||
			conv.Kind != parley.KindCustomer || conv.Language != "pt" {
			t.Fatalf("conversation = %+v", conv)
		}
		if conv.LastCustomerMessageAt == nil || !conv.LastCustomerMessageAt.Equal(sent) {
			t.Fatalf("last customer message at %v, want the message's time %v", conv.LastCustomerMessageAt, sent)
		}

		// What the tenant sees through the API.
		res := e.Do(http.MethodGet, "/api/conversations/"+conv.ID+"/events", e.key, nil)
		if res.Status != 200 {
			t.Fatalf("events API: %d %s", res.Status, res.Body)
		}
		var page struct{ Items []parley.Event }
		res.JSON(t, &page)
		if got := eventNames(page.Items); !slices.Equal(got, []string{event.TextMessageReceived, event.TextMessageWithUserInfoReceived}) {
			t.Fatalf("events = %v", got)
		}
		info, _ := page.Items[1].Payload["customer"].(map[string]any)
		if info["id"] != cust.ID || info["name"] != "Ana Lima" || page.Items[1].Payload["content"] != "Hi, is my order ready?" {
			t.Fatalf("user info event payload = %v", page.Items[1].Payload)
		}
		if items := e.inbox(); len(items) != 1 || items[0].Outcome != "received" || items[0].ProcessedAt == nil {
			t.Fatalf("inbox = %+v", items)
		}
	})
}

// Anything not signed with the app secret is refused before it is read,
// and leaves no trace but a counter.
func TestUnsignedOrForgedWebhookStoresNothing(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e *env) {
		body := e.text("wamid.F1", ana, "Ana", "hi")
		other := e.text("wamid.F2", ana, "Ana", "other")
		cases := []struct{ name, signature string }{
			{"missing", ""},
			{"another secret", whatsapptest.Sign("not-the-secret", body)},
			{"another body", whatsapptest.Sign(appSecret, other)},
			{"not hex", "sha256=" + strings.Repeat("z", 64)},
			{"no prefix", strings.TrimPrefix(whatsapptest.Sign(appSecret, body), "sha256=")},
		}
		for _, c := range cases {
			status, answer := e.post("/webhooks/whatsapp", body, c.signature)
			if status != http.StatusUnauthorized || !strings.Contains(answer, `"code":"unauthorized"`) {
				t.Fatalf("%s signature: %d %s, want 401 unauthorized", c.name, status, answer)
			}
		}
		if got := e.metric("whatsapp", "bad_signature"); got != float64(len(cases)) {
			t.Fatalf("bad_signature counter = %v, want %d", got, len(cases))
		}
		if len(e.inbox()) != 0 || len(e.conversations()) != 0 || len(e.receivedJobs()) != 0 {
			t.Fatal("a refused webhook stored something")
		}
	})
}

func TestOversizedAndMalformedWebhooks(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e *env) {
		// Over 1 MiB, even correctly signed: 413 before anything else.
		big := e.text("wamid.BIG", ana, "Ana", strings.Repeat("a", 1<<20))
		if status, answer := e.post("/webhooks/whatsapp", big, whatsapptest.Sign(appSecret, big)); status != http.StatusRequestEntityTooLarge ||
			!strings.Contains(answer, "payload_too_large") {
			t.Fatalf("oversized body: %d %s", status, answer)
		}
		// Signed but unusable (not JSON, not a WhatsApp object): 200 so Meta
		// does not redeliver it for a week, counted as malformed.
		for _, name := range []string{"malformed", "wrong_object"} {
			e.deliver(fixture(t, name))
		}
		if got := e.metric("whatsapp", "malformed"); got != 2 {
			t.Fatalf("malformed counter = %v, want 2", got)
		}
		if got := e.metric("whatsapp", "too_large"); got != 1 {
			t.Fatalf("too_large counter = %v, want 1", got)
		}
		if len(e.inbox()) != 0 || len(e.conversations()) != 0 || len(e.receivedJobs()) != 0 {
			t.Fatal("an unusable webhook stored something")
		}
	})
}

func TestUnknownPhoneNumberIDIsAcknowledged(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e *env) {
		body := whatsapptest.TextWebhook(whatsapptest.Inbound{PhoneNumberID: "106000000000999", From: ana, ID: "wamid.U1", Time: e.clk.Now()}, "hello?")
		e.deliver(body)
		if got := e.metric("whatsapp", "unknown_number"); got != 1 {
			t.Fatalf("unknown_number counter = %v, want 1", got)
		}
		if len(e.inbox()) != 0 || len(e.conversations()) != 0 || len(e.receivedJobs()) != 0 {
			t.Fatal("a message for an unknown number was stored")
		}
		if !strings.Contains(e.Logs.String(), "106000000000999") {
			t.Fatal("the unknown phone_number_id is not logged")
		}
	})
}

// Meta redelivers: the same wamid, twice in a row or twice at once, is one
// message, one job, one received event.
func TestDuplicateDeliveriesAreProcessedOnce(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e *env) {
		t.Run("sequential", func(t *testing.T) {
			body := e.text("wamid.D1", ana, "Ana", "once")
			e.deliver(body)
			e.message("wamid.D1")
			e.settled()
			e.deliver(body) // after the first was fully processed
			e.settled()
			e.assertOnce(t, "wamid.D1")
		})
		t.Run("concurrent", func(t *testing.T) {
			body := e.text("wamid.D2", ana, "Ana", "at once")
			const deliveries = 8
			var wg sync.WaitGroup
			statuses := make(chan int, deliveries)
			gate := make(chan struct{})
			for range deliveries {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-gate
					req, _ := http.NewRequest(http.MethodPost, e.URL()+"/webhooks/whatsapp", strings.NewReader(string(body)))
					req.Header.Set("X-Hub-Signature-256", whatsapptest.Sign(appSecret, body))
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					res.Body.Close()
					statuses <- res.StatusCode
				}()
			}
			close(gate)
			wg.Wait()
			close(statuses)
			for s := range statuses {
				if s != http.StatusOK {
					t.Fatalf("a concurrent delivery got %d, want 200", s)
				}
			}
			e.message("wamid.D2")
			e.settled()
			e.assertOnce(t, "wamid.D2")
		})
		if got := e.metric("whatsapp", "duplicate"); got != 1+7 {
			t.Fatalf("duplicate counter = %v, want 8", got)
		}
	})
}

// assertOnce checks a wamid was taken once: one inbox row, processed as
// received, one received event, and no job that carried it (the receive
// stage works the inbox rows themselves).
func (e *env) assertOnce(t *testing.T, wamid string) {
	t.Helper()
	rows := 0
	for _, it := range e.inbox() {
		if it.ProviderMessageID == wamid {
			rows++
			if it.ProcessedAt == nil || it.Outcome != "received" {
				t.Fatalf("%s: inbox row not processed as received: %+v", wamid, it)
			}
		}
	}
	m := e.message(wamid)
	received := 0
	for _, ev := range e.events(m.ConversationID) {
		if ev.Name == event.TextMessageReceived && ev.Payload["channel_message_id"] == wamid {
			received++
		}
	}
	jobs := 0
	for _, j := range e.receivedJobs() {
		if strings.Contains(string(j.EncodedArgs), itemID(e, wamid)) {
			jobs++
		}
	}
	if rows != 1 || received != 1 || jobs != 0 {
		t.Fatalf("%s: %d inbox rows, %d received events, %d jobs; want 1, 1 and 0", wamid, rows, received, jobs)
	}
}

func itemID(e *env, wamid string) string {
	for _, it := range e.inbox() {
		if it.ProviderMessageID == wamid {
			return it.ID
		}
	}
	return "(none)"
}

// Statuses move the message they name forward only; a failure records the
// code and logs Message Send Failed; a status that overtakes the send job
// finds its message by the id we echo in biz_opaque_callback_data.
func TestStatusesUpdateTheirMessage(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e *env) {
		e.deliver(e.text("wamid.S0", ana, "Ana", "hi"))
		conv := e.message("wamid.S0").ConversationID
		out := e.outbound(conv, "wamid.OUT1", parley.StatusSent)
		failing := e.outbound(conv, "wamid.OUT2", parley.StatusSent)

		status := func(id, st string, code int) []byte {
			s := whatsapptest.StatusEvent{PhoneNumberID: pnID, MessageID: id, Status: st, RecipientID: ana, Time: e.clk.Now()}
			if code != 0 {
				s.ErrorCode, s.ErrorTitle, s.ErrorDetail = code, "Message Undeliverable", "The recipient is not on WhatsApp."
			}
			return whatsapptest.StatusWebhook(s)
		}
		get := func(id string) parley.Message {
			m, err := e.Store.GetMessage(context.Background(), e.tenant.ID, id)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		// Out of order: read arrives before delivered; delivered must not undo it.
		e.deliver(status("wamid.OUT1", "read", 0))
		e.deliver(status("wamid.OUT1", "delivered", 0))
		e.deliver(status("wamid.OUT1", "read", 0)) // and a redelivery changes nothing
		if got := get(out.ID).Status; got != parley.StatusRead {
			t.Fatalf("after read then delivered: %s, want read", got)
		}
		e.deliver(status("wamid.OUT2", "failed", 131026))
		f := get(failing.ID)
		if f.Status != parley.StatusFailed || f.ErrorCode != "131026" || !strings.Contains(f.ErrorReason, "not on WhatsApp") {
			t.Fatalf("failed message = %s %q %q", f.Status, f.ErrorCode, f.ErrorReason)
		}

		// A status for a message whose send job has not recorded the wamid yet.
		queued, err := e.Store.InsertMessage(context.Background(), parley.Message{TenantID: e.tenant.ID, ConversationID: conv, Role: parley.RoleAI,
			Content: "racing", ChannelID: e.ch.ID, Status: parley.StatusQueued})
		if err != nil {
			t.Fatal(err)
		}
		raced := strings.Replace(string(status("wamid.OUT3", "delivered", 0)), `"recipient_id"`, `"biz_opaque_callback_data":"`+queued.ID+`","recipient_id"`, 1)
		e.deliver([]byte(raced))
		if q := get(queued.ID); q.Status != parley.StatusDelivered || q.ChannelMessageID != "wamid.OUT3" {
			t.Fatalf("raced message = %s %q, want delivered with its wamid", q.Status, q.ChannelMessageID)
		}

		var failedEvents, changed int
		for _, ev := range e.events(conv) {
			switch ev.Name {
			case event.MessageSendFailed:
				failedEvents++
				if ev.Payload["message_id"] != failing.ID || ev.Payload["error_code"] != "131026" {
					t.Fatalf("send failed event = %v", ev.Payload)
				}
			case event.MessageStatusChanged:
				changed++
			}
		}
		if failedEvents != 1 || changed != 2 {
			t.Fatalf("%d Message Send Failed and %d Message Status Changed events; want 1 and 2 (read, raced delivered)", failedEvents, changed)
		}
		if got := e.metric("whatsapp", "status_stale"); got != 2 {
			t.Fatalf("status_stale counter = %v, want 2", got)
		}
	})
}

func TestStaffNumberOpensAStaffConversation(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e *env) {
		staff, err := e.Store.CreateStaffMember(context.Background(), parley.StaffMember{TenantID: e.tenant.ID, Phone: "+5511977776666", Name: "Rita", Type: "sales"})
		if err != nil {
			t.Fatal(err)
		}
		e.deliver(e.text("wamid.ST1", "5511977776666", "Rita", "what can I do?"))
		conv := e.conversation(e.message("wamid.ST1").ConversationID)
		if conv.Kind != parley.KindStaff || conv.StaffMemberID != staff.ID || conv.CustomerID != "" {
			t.Fatalf("conversation = %+v, want a staff conversation for Rita", conv)
		}
		if got := eventNames(e.events(conv.ID)); !slices.Equal(got, []string{event.TextMessageReceived}) {
			t.Fatalf("events = %v", got)
		}
	})
}

// An unknown number gets a conversation keyed by its phone, without a
// customer; the next message joins the same conversation.
func TestUnknownSenderConversationIsJoined(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e *env) {
		e.deliver(e.text("wamid.N1", "5511955554444", "Zé", "oi"))
		first := e.message("wamid.N1")
		e.clk.Advance(time.Minute)
		e.deliver(e.text("wamid.N2", "5511955554444", "Zé", "tudo bem?"))
		second := e.message("wamid.N2")
		if first.ConversationID != second.ConversationID {
			t.Fatal("the second message opened another conversation")
		}
		conv := e.conversation(first.ConversationID)
		if conv.CustomerID != "" || conv.ContactPhone != "+5511955554444" || len(e.conversations()) != 1 {
			t.Fatalf("conversation = %+v", conv)
		}
		if n := len(e.messages(conv.ID)); n != 2 {
			t.Fatalf("%d messages, want 2", n)
		}
		for _, ev := range e.events(conv.ID) {
			if ev.Name == event.TextMessageWithUserInfoReceived {
				t.Fatal("an unknown sender got a user-info event")
			}
		}
	})
}

// Every fixture of the protocol package, posted signed, ends where it
// should: each message in its conversation as its type (unknown types with
// their raw payload), skipped items nowhere.
func TestEveryFixtureEndToEnd(t *testing.T) {
	t.Parallel()
	type want struct {
		wamid   string
		typ     parley.MessageType
		content string
	}
	cases := []struct {
		fixture string
		want    []want // messages stored for our number
	}{
		{"text", []want{{"wamid.HBgNAAA1", parley.MessageText, "Hi, is my order ready?"}}},
		{"text_escaped_unicode", []want{{"wamid.HBgNAAE5", parley.MessageText, "Grüße 😀"}}},
		{"text_reply_forwarded", []want{{"wamid.HBgNAAA9", parley.MessageText, "See this"}}},
		{"timestamp_millis", []want{{"wamid.HBgNAAE2", parley.MessageText, "millis"}}},
		{"interactive_button_reply", []want{{"wamid.HBgNAAA2", parley.MessageInteractive, "Yes"}}},
		{"interactive_list_reply", []want{{"wamid.HBgNAAA3", parley.MessageInteractive, "10:00"}}},
		{"interactive_nfm_reply", []want{{"wamid.HBgNAAA4", parley.MessageInteractive, "Sent"}}},
		{"button", []want{{"wamid.HBgNAAA5", parley.MessageButton, "Unsubscribe"}}},
		{"image", []want{{"wamid.HBgNAAA6", parley.MessageImage, "My receipt"}}},
		{"video", []want{{"wamid.HBgNAAA7", parley.MessageVideo, ""}}},
		{"sticker", []want{{"wamid.HBgNAAA8", parley.MessageSticker, ""}}},
		{"audio_voice", []want{{"wamid.HBgNAAB1", parley.MessageAudio, ""}}},
		{"voice_type", []want{{"wamid.HBgNAAB2", parley.MessageAudio, ""}}},
		{"document", []want{{"wamid.HBgNAAB3", parley.MessageDocument, "invoice.pdf"}}},
		{"location", []want{{"wamid.HBgNAAB4", parley.MessageLocation, "location: Shop, Rua A, 1 (-23.5505, -46.6333)"}}},
		{"contacts", []want{{"wamid.HBgNAAB5", parley.MessageContacts, "contacts: Bruno Costa +55 11 98888-7777"}}},
		{"reaction", []want{{"wamid.HBgNAAB6", parley.MessageReaction, "👍"}}},
		{"reaction_removed", []want{{"wamid.HBgNAAB7", parley.MessageReaction, ""}}},
		{"unsupported", []want{{"wamid.HBgNAAB8", parley.MessageUnknown, ""}}},
		{"unknown_type_order", []want{{"wamid.HBgNAAB9", parley.MessageUnknown, ""}}},
		{"malformed_text_object", []want{{"wamid.HBgNAAC1", parley.MessageUnknown, ""}}},
		{"batch_multi", []want{{"wamid.HBgNAAD1", parley.MessageText, "first"}, {"wamid.HBgNAAD2", parley.MessageText, "second"}}},
		// Nothing for us: statuses of messages we never sent, other
		// fields, group messages, items without an id or a number.
		{"status_sent", nil}, {"status_delivered", nil}, {"status_read", nil}, {"status_failed", nil}, {"status_deleted", nil},
		{"errors_out_of_band", nil}, {"field_account_update", nil}, {"group_message", nil}, {"missing_id", nil},
		{"missing_phone_number_id", nil}, {"username_user", nil},
	}
	eachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		// batch_multi also carries a message for another tenant's number.
		other, _ := e.Tenant("Other")
		otherCh, err := e.Store.CreateChannel(ctx, parley.Channel{TenantID: other.ID, Type: parley.ChannelWhatsApp, Name: "de", PhoneNumberID: "106000000000008", AccessToken: "t", Settings: map[string]string{parley.SettingCheck: parley.CheckOK}})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			e.deliver(fixture(t, c.fixture))
		}
		e.settled()
		stored := 0
		for _, c := range cases {
			for _, w := range c.want {
				m := e.message(w.wamid)
				stored++
				if m.Type != w.typ || m.Content != w.content {
					t.Errorf("%s: %s stored as %s %q, want %s %q", c.fixture, w.wamid, m.Type, m.Content, w.typ, w.content)
				}
				if w.typ == parley.MessageUnknown && m.Extra["raw"] == nil {
					t.Errorf("%s: unknown message kept without its raw payload: %v", c.fixture, m.Extra)
				}
			}
		}
		total := 0
		for _, conv := range e.conversations() {
			total += len(e.messages(conv.ID))
		}
		if total != stored {
			t.Fatalf("%d messages stored, want %d", total, stored)
		}
		// The username-only sender has no number to key a conversation by:
		// kept in the inbox with the reason.
		for _, it := range e.inbox() {
			if it.ProviderMessageID == "wamid.HBgNAAE4" && !strings.HasPrefix(it.Outcome, "skipped: ") {
				t.Fatalf("username message outcome = %q", it.Outcome)
			}
		}
		carla, err := e.Store.MessageByChannelID(ctx, otherCh.ID, "wamid.HBgNAAD3")
		if err != nil || carla.TenantID != other.ID || carla.Content != "hallo" {
			t.Fatalf("the other number's message = %+v, %v", carla, err)
		}
		apptest.Eventually(t, "all inbox rows processed", func() bool {
			for _, it := range e.inbox() {
				if it.ProcessedAt == nil {
					return false
				}
			}
			return true
		})
	})
}

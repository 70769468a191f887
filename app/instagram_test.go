package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel/instagram"
	"github.com/parleyhq/parley/channel/instagram/instagramtest"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/llm/llmtest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

const (
	igAccount = "17841400000000123"
	igToken   = "IGAA-e2e-token"
	igCarla   = "1234567890123456" // the customer's Instagram-scoped id
)

// igWorld is a whole Parley with an Instagram channel, Meta's Instagram
// API and the model faked on loopback, on a clock the test moves.
type igWorld struct {
	*apptest.Parley
	ig    *instagramtest.Fake
	model *llmtest.Server
	clk   *clock.Fake
	key   string
	n     int // messages Carla wrote
}

func newIGWorld(t *testing.T, engine store.Engine) *igWorld {
	ig := instagramtest.New()
	t.Cleanup(ig.Close)
	ig.AddAccount(instagramtest.Account{ID: igAccount, Token: igToken, Username: "acme.shoes", Name: "Acme Shoes"})
	model := llmtest.Start(llmtest.Options{APIKey: "llm-key", Responder: func(r llmtest.Request) llmtest.Reply {
		if strings.Contains(r.System(), "rewrite a business's staff answer") {
			return llmtest.JSON(map[string]any{"continuation_fragment": "size 42 is in stock", "full_sentence": "Size 42 is in stock."})
		}
		for _, m := range r.Messages {
			if strings.Contains(m.Content, "Notification NOTIF_") {
				return answer("Good news, Carla: size 42 is in stock!", false)
			}
		}
		switch u := r.LastUser(); {
		case strings.Contains(u, "person"):
			return answer("Passing you to a colleague.", true)
		case strings.Contains(u, "open"):
			return answer("We open at 9:00.", false)
		}
		return answer("You're welcome!", false)
	}})
	t.Cleanup(model.Close)
	clk := clock.NewFake(time.Now().UTC().Truncate(time.Second))
	p := apptest.Start(t, engine, clk, func(c *config.Config) {
		c.InstagramGraphURL, c.WhatsAppAppSecret, c.WhatsAppVerifyToken = ig.URL, secret, "verify-me"
		c.LLMBaseURL, c.LLMAPIKey, c.LLMModel = model.URL, "llm-key", "fake-model"
		c.JobRescueAfter = 100 * 365 * 24 * time.Hour // River's rescuer reads the wall clock
	})
	p.ShowLogsOnFailure(t)
	_, key := p.Tenant("Acme")
	return &igWorld{Parley: p, ig: ig, model: model, clk: clk, key: key}
}

func (w *igWorld) post(t *testing.T, path string, body any, want int) map[string]any {
	t.Helper()
	r := w.Do("POST", path, w.key, body)
	if r.Status != want {
		t.Fatalf("POST %s = %d %s, want %d", path, r.Status, r.Body, want)
	}
	return r.Map(t)
}

// deliver posts a webhook signed as Meta signs it.
func (w *igWorld) deliver(t *testing.T, body []byte) {
	t.Helper()
	status, answer, err := instagramtest.Deliver(context.Background(), w.URL()+"/webhooks/instagram", secret, body)
	if err != nil || status != http.StatusOK {
		t.Fatalf("webhook = %d %s %v", status, answer, err)
	}
}

// write is a text from Carla, now.
func (w *igWorld) write(t *testing.T, text string) {
	t.Helper()
	w.n++
	w.deliver(t, instagramtest.TextWebhook(instagramtest.Inbound{AccountID: igAccount, From: igCarla,
		MID: "aWdfE2E" + strings.Repeat("x", w.n), Time: w.clk.Now()}, text))
}

func (w *igWorld) waitSent(t *testing.T, n int) []instagramtest.SentMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sent, err := w.ig.WaitSent(ctx, n)
	if err != nil {
		t.Fatalf("waiting for %d sends at the Instagram API (have %d): %v\n%s", n, len(sent), err, w.Logs.String())
	}
	return sent
}

type igMessage struct {
	ID, Role, Status, Content string
	ErrorCode                 string `json:"error_code"`
	ErrorReason               string `json:"error_reason"`
	ChannelMessageID          string `json:"channel_message_id"`
	Extra                     map[string]any
}

func (w *igWorld) messages(t *testing.T, convID string) []igMessage {
	var detail struct{ Messages []igMessage }
	w.Do("GET", "/api/conversations/"+convID, w.key, nil).JSON(t, &detail)
	return detail.Messages
}

func (w *igWorld) events(t *testing.T, convID, name string) []map[string]any {
	var events struct {
		Items []struct {
			Name    string
			Payload map[string]any
		}
	}
	w.Do("GET", "/api/conversations/"+convID+"/events?limit=200", w.key, nil).JSON(t, &events)
	var out []map[string]any
	for _, ev := range events.Items {
		if ev.Name == name {
			out = append(out, ev.Payload)
		}
	}
	return out
}

// Issue 16's Instagram walk, on both engines: the AI answers an Instagram
// message; a read receipt and an echo; a human's reply on day 3 goes with
// the HUMAN_AGENT tag and one on day 8 is refused with the reason; a
// follow-up survey goes as quick replies and its answer comes back; a
// notification's answer reaches the Instagram customer.
func TestInstagramEndToEnd(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		w := newIGWorld(t, e)
		for _, bad := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"type": "instagram", "name": "IG", "instagram_account_id": "acme.shoes", "access_token": igToken}, "instagram_account_id"},
			{map[string]any{"type": "instagram", "name": "IG", "access_token": igToken}, "instagram_account_id"},
			{map[string]any{"type": "instagram", "name": "IG", "instagram_account_id": igAccount}, "access_token"},
			{map[string]any{"type": "instagram", "name": "IG", "phone_number_id": igAccount, "access_token": igToken}, "phone_number_id"},
		} {
			r := w.Do("POST", "/api/channels", w.key, bad.body)
			if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), bad.field) {
				t.Errorf("POST /api/channels %v = %d %s, want 422 naming %s", bad.body, r.Status, r.Body, bad.field)
			}
		}
		ch := w.post(t, "/api/channels", map[string]any{"type": "instagram", "name": "Instagram",
			"instagram_account_id": igAccount, "access_token": igToken}, http.StatusCreated)
		chID := ch["id"].(string)
		if ch["instagram_account_id"] != igAccount || ch["has_access_token"] != true || strings.Contains(string(w.Do("GET", "/api/channels/"+chID, w.key, nil).Body), igToken) {
			t.Fatalf("channel view = %v", ch)
		}
		apptest.Eventually(t, "the ownership check", func() bool {
			settings, _ := w.Do("GET", "/api/channels/"+chID, w.key, nil).Map(t)["settings"].(map[string]any)
			return settings["check"] == "ok" && settings["verified_name"] == "Acme Shoes"
		})
		w.post(t, "/api/documents", map[string]any{"title": "Opening hours", "body": "We open at 9:00 and close at 18:00.", "category": "FAQ"}, http.StatusCreated)
		w.post(t, "/api/agents", map[string]any{"name": "Bea"}, http.StatusCreated)
		// Follow-ups need the feature and, by the original design's rules, the APPOINTMENTS module.
		if r := w.Do("PATCH", "/api/tenant", w.key, map[string]any{"features": map[string]bool{"followups": true},
			"modules": []string{parley.ModuleAppointments}}); r.Status != http.StatusOK {
			t.Fatalf("patch tenant = %d %s", r.Status, r.Body)
		}

		// An Instagram message answered by the AI.
		w.write(t, "When do you open?")
		sent := w.waitSent(t, 1)
		if sent[0].To != igCarla || sent[0].AccountID != igAccount || sent[0].Text != "We open at 9:00." || sent[0].Tag != "" {
			t.Fatalf("first send = %+v", sent[0])
		}
		var convs struct {
			Items []struct {
				ID           string
				ContactPhone string `json:"contact_phone"`
			}
		}
		w.Do("GET", "/api/conversations", w.key, nil).JSON(t, &convs)
		if len(convs.Items) != 1 || convs.Items[0].ContactPhone != "ig:"+igCarla {
			t.Fatalf("conversations = %+v", convs.Items)
		}
		convID := convs.Items[0].ID

		// The customer reads it; Meta echoes our own send, which is not answered.
		apptest.Eventually(t, "the mid stored", func() bool {
			for _, m := range w.messages(t, convID) {
				if m.ChannelMessageID == sent[0].ID {
					return true
				}
			}
			return false
		})
		calls := w.model.Calls()
		w.deliver(t, instagramtest.EchoWebhook(igAccount, igCarla, sent[0].ID, sent[0].Text))
		w.deliver(t, instagramtest.ReadWebhook(igAccount, igCarla, sent[0].ID, w.clk.Now()))
		apptest.Eventually(t, "the answer marked read", func() bool {
			for _, m := range w.messages(t, convID) {
				if m.Role == "ai" && m.Status == "read" {
					return true
				}
			}
			return false
		})
		if len(w.messages(t, convID)) != 2 || w.model.Calls() != calls {
			t.Fatalf("the echo was taken in or answered: %+v", w.messages(t, convID))
		}

		// A person is asked for: a ticket, assigned to Bea.
		w.write(t, "Can I talk to a person?")
		w.waitSent(t, 2)
		ticketID := assignedTicket(t, w.Parley, w.key)

		// Day 3: Bea's reply goes, tagged HUMAN_AGENT.
		w.clk.Advance(3 * 24 * time.Hour)
		w.post(t, "/api/tickets/"+ticketID+"/reply", map[string]any{"text": "Sorry for the wait, Carla: your parcel left today."}, http.StatusAccepted)
		sent = w.waitSent(t, 3)
		if sent[2].Text != "Sorry for the wait, Carla: your parcel left today." || sent[2].Tag != instagram.TagHumanAgent || !strings.Contains(string(sent[2].Body), `"messaging_type":"MESSAGE_TAG"`) {
			t.Fatalf("day-3 reply = %+v %s", sent[2], sent[2].Body)
		}

		// Day 8: refused, with the reason on the message and in the log.
		w.clk.Advance(5 * 24 * time.Hour)
		r := w.Do("POST", "/api/tickets/"+ticketID+"/reply", w.key, map[string]any{"text": "Are you still there?"})
		if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "Instagram") || !strings.Contains(string(r.Body), "192h") {
			t.Fatalf("day-8 reply = %d %s", r.Status, r.Body)
		}
		var refused *igMessage
		for _, m := range w.messages(t, convID) {
			if m.Content == "Are you still there?" {
				refused = &m
			}
		}
		if refused == nil || refused.Status != "failed" || refused.ErrorCode != "outside_window" || !strings.Contains(refused.ErrorReason, "7 days") {
			t.Fatalf("refused message = %+v", refused)
		}
		failed := w.events(t, convID, event.MessageSendFailed)
		if len(failed) != 1 || failed[0]["error_code"] != "outside_window" || failed[0]["message_id"] != refused.ID {
			t.Fatalf("Message Send Failed events = %+v", failed)
		}
		if n := len(w.ig.Sent()); n != 3 {
			t.Fatalf("%d sends at the fake after the refusal, want 3", n)
		}
		w.post(t, "/api/tickets/"+ticketID+"/close", nil, http.StatusOK)

		// A follow-up survey as quick replies, answered by a tap.
		w.post(t, "/api/followup-rules", map[string]any{"title": "CSAT", "message": "How did we do?", "delay": "30m",
			"survey": "csat", "send_as_written": true, "channel_ids": []string{chID}}, http.StatusCreated)
		w.write(t, "Thanks!")
		sent = w.waitSent(t, 4)
		if sent[3].Text != "You're welcome!" {
			t.Fatalf("after the ticket closed the AI answers; got %+v", sent[3])
		}
		w.clk.Advance(31 * time.Minute)
		w.post(t, "/api/conversations/"+convID+"/follow-up", nil, http.StatusAccepted)
		sent = w.waitSent(t, 5)
		survey := sent[4]
		var titles []string
		for _, q := range survey.QuickReplies {
			titles = append(titles, q.Title)
		}
		if survey.Text != "How did we do?" || strings.Join(titles, ",") != "Very poor,Poor,Okay,Good,Excellent" || survey.Tag != "" {
			t.Fatalf("survey = %+v", survey)
		}
		w.deliver(t, instagramtest.QuickReplyWebhook(instagramtest.Inbound{AccountID: igAccount, From: igCarla, MID: "aWdfE2Etap", Time: w.clk.Now()},
			"Excellent", survey.QuickReplies[4].Payload))
		apptest.Eventually(t, "the survey answer", func() bool {
			for _, ev := range w.events(t, convID, "Follow-Up Survey Answered") {
				if ev["answer"] == "5" {
					return true
				}
			}
			return false
		})

		// A notification's answer reaches the Instagram customer.
		w.post(t, "/api/notifications", map[string]any{"type": "user_question_request", "conversation_id": convID,
			"context": map[string]string{"question": "Do you have size 42?"}, "answer": map[string]any{"answer": "Yes, 42 is in stock."}}, http.StatusCreated)
		var last instagramtest.SentMessage
		apptest.Eventually(t, "the notification's answer at Instagram", func() bool {
			for _, s := range w.ig.Sent() {
				if s.To == igCarla && strings.Contains(s.Text, "42") {
					last = s
					return true
				}
			}
			return false
		})

		// Carla reads it: Instagram's receipt means read up to there.
		var readID string
		apptest.Eventually(t, "the last mid stored", func() bool {
			for _, m := range w.messages(t, convID) {
				if m.ChannelMessageID == last.ID {
					readID = m.ID
					return true
				}
			}
			return false
		})
		w.deliver(t, instagramtest.ReadWebhook(igAccount, igCarla, last.ID, w.clk.Now()))
		// Ids are ordered by time: what came after the read message (a
		// reply queued meanwhile) is not covered by the receipt.
		apptest.Eventually(t, "every message up to the read one read", func() bool {
			for _, m := range w.messages(t, convID) {
				if m.ID <= readID && (m.Role == "ai" || m.Role == "agent") && m.Status != "read" && m.Status != "failed" && m.Status != "queued" {
					return false
				}
			}
			return true
		})
	})
}

// An Instagram account's messages wait until a channel proves it owns the
// account; a customer known by phone is linked to their Instagram id (and
// an Instagram-only record merged in); an unsent message is marked.
func TestInstagramOwnershipLinksAndDeletions(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		w := newIGWorld(t, e)
		ch := w.post(t, "/api/channels", map[string]any{"type": "instagram", "name": "Instagram",
			"instagram_account_id": igAccount, "access_token": "not-the-accounts-token"}, http.StatusCreated)
		chID := ch["id"].(string)
		apptest.Eventually(t, "the failed check", func() bool {
			settings, _ := w.Do("GET", "/api/channels/"+chID, w.key, nil).Map(t)["settings"].(map[string]any)
			return settings["check"] == "failed"
		})
		w.write(t, "When do you open?")
		if m := w.Do("GET", "/metrics", "", nil); !strings.Contains(string(m.Body), `parley_webhook_events_total{outcome="held_unverified",provider="instagram"} 1`) {
			t.Fatalf("the message was not held:\n%s", grepLines(string(m.Body), "parley_webhook_events_total"))
		}
		if n := len(w.ig.Sent()); n != 0 {
			t.Fatalf("%d sends before the account was proven", n)
		}
		if r := w.Do("PATCH", "/api/channels/"+chID, w.key, map[string]any{"access_token": igToken}); r.Status != http.StatusOK {
			t.Fatalf("patch = %d %s", r.Status, r.Body)
		}
		sent := w.waitSent(t, 1) // released by the passed check, then answered
		if sent[0].To != igCarla || sent[0].Text != "We open at 9:00." {
			t.Fatalf("send = %+v", sent[0])
		}
		var convs struct {
			Items []struct {
				ID         string
				CustomerID string `json:"customer_id"`
			}
		}
		w.Do("GET", "/api/conversations", w.key, nil).JSON(t, &convs)
		convID := convs.Items[0].ID

		// Carla is a WhatsApp customer already: link her Instagram id.
		carla := w.post(t, "/api/customers", map[string]any{"phone": "+5511999990000", "name": "Carla"}, http.StatusCreated)
		linked := w.post(t, "/api/customers/"+carla["id"].(string)+"/link", map[string]any{"instagram_id": igCarla}, http.StatusOK)
		if ids, _ := linked["identities"].([]any); len(ids) != 1 || ids[0] != "ig:"+igCarla {
			t.Fatalf("linked = %v", linked)
		}
		w.Do("GET", "/api/conversations", w.key, nil).JSON(t, &convs)
		if convs.Items[0].CustomerID != carla["id"] {
			t.Fatalf("the Instagram conversation's customer = %q, want Carla's record", convs.Items[0].CustomerID)
		}
		w.write(t, "Thanks!")
		apptest.Eventually(t, "Carla known on her next Instagram message", func() bool {
			for _, p := range w.events(t, convID, event.TextMessageWithUserInfoReceived) {
				if c, _ := p["customer"].(map[string]any); c != nil && c["id"] == carla["id"] {
					return true
				}
			}
			return false
		})
		other := w.post(t, "/api/customers", map[string]any{"phone": "+5511988887777", "name": "Other"}, http.StatusCreated)
		if r := w.Do("POST", "/api/customers/"+other["id"].(string)+"/link", w.key, map[string]any{"instagram_id": igCarla}); r.Status != http.StatusConflict {
			t.Fatalf("linking an id another customer has = %d %s", r.Status, r.Body)
		}
		if r := w.Do("POST", "/api/customers/"+other["id"].(string)+"/link", w.key, map[string]any{"instagram_id": "carla.ig"}); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("a username as id = %d %s", r.Status, r.Body)
		}

		// Another tenant can neither link to these customers nor merge them.
		_, theirKey := w.Tenant("Bolt")
		if r := w.Do("POST", "/api/customers/"+carla["id"].(string)+"/link", theirKey, map[string]any{"instagram_id": "42"}); r.Status != http.StatusNotFound {
			t.Fatalf("another tenant linking to Carla = %d %s", r.Status, r.Body)
		}
		theirs := w.Do("POST", "/api/customers", theirKey, map[string]any{"phone": "+5511977776666", "name": "Theirs"})
		if r := w.Do("POST", "/api/customers/"+theirs.Map(t)["id"].(string)+"/link", theirKey, map[string]any{"customer_id": carla["id"]}); r.Status != http.StatusNotFound {
			t.Fatalf("another tenant merging Carla = %d %s", r.Status, r.Body)
		}

		// A record made from Instagram alone is merged into the WhatsApp one.
		igOnly := w.post(t, "/api/customers", map[string]any{"instagram_id": "7777777777777777", "name": "Dan", "email": "dan@example.com"}, http.StatusCreated)
		if igOnly["phone"] != "ig:7777777777777777" {
			t.Fatalf("Instagram-only customer = %v", igOnly)
		}
		merged := w.post(t, "/api/customers/"+other["id"].(string)+"/link", map[string]any{"customer_id": igOnly["id"]}, http.StatusOK)
		if ids, _ := merged["identities"].([]any); len(ids) != 1 || ids[0] != "ig:7777777777777777" || merged["email"] != "dan@example.com" {
			t.Fatalf("merged = %v", merged)
		}
		if r := w.Do("GET", "/api/customers/"+igOnly["id"].(string), w.key, nil); r.Status != http.StatusNotFound {
			t.Fatalf("the merged record is still there: %d", r.Status)
		}

		// Carla unsends her first message: kept, marked, logged.
		w.deliver(t, instagramtest.DeletedWebhook(igAccount, igCarla, "aWdfE2Ex"))
		apptest.Eventually(t, "the message marked deleted", func() bool {
			for _, m := range w.messages(t, convID) {
				if m.Content == "When do you open?" && m.Extra["deleted"] == true {
					return true
				}
			}
			return false
		})
		if got := w.events(t, convID, event.MessageDeleted); len(got) != 1 {
			t.Fatalf("Message Deleted events = %v", got)
		}
	})
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

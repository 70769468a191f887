package channel_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// A tenant whose token cannot read a number does not get that number's
// customers: messages wait until a tenant proves it owns the number, then go
// to that tenant; the intruder's refusal-free registration tells nobody
// anything, and the real owner is not refused (issue 15).
func TestWhatsAppNumberRoutesOnlyToProvenOwner(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		// The intruder's token is a real token, for another number.
		_, clk, p := startOwners(t, engine, "intruder-token")
		_, intruderKey := p.Tenant("Intruder")
		_, ownerKey := p.Tenant("Lima Shop")

		// The intruder registers the number first, and even claims the
		// check passed: the check is Parley's to record, not the tenant's.
		r := p.Do("POST", "/api/channels", intruderKey, map[string]any{"type": "whatsapp", "name": "Stolen", "phone_number_id": pnID,
			"access_token": "intruder-token", "settings": map[string]string{"check": "ok"}})
		if r.Status != http.StatusCreated {
			t.Fatalf("intruder's channel = %d %s", r.Status, r.Body)
		}
		intruderCh := r.Map(t)["id"].(string)
		waitCheck(t, p, intruderKey, intruderCh, "failed")
		// Nor can it write the result afterwards.
		r = p.Do("PATCH", "/api/channels/"+intruderCh, intruderKey, map[string]any{"settings": map[string]string{"check": "ok", "check_error": ""}})
		var patched struct{ Settings map[string]string }
		r.JSON(t, &patched)
		if r.Status != http.StatusOK || patched.Settings["check"] != "failed" || patched.Settings["check_error"] == "" {
			t.Fatalf("PATCH settings.check = %d %s", r.Status, r.Body)
		}

		body := whatsapptest.TextWebhook(whatsapptest.Inbound{PhoneNumberID: pnID, From: ana, Name: "Ana", ID: "wamid.HELD1", Time: clk.Now()}, "Is my order ready?")
		deliver(t, p, body)
		if got := conversationCount(t, p, intruderKey); got != 0 {
			t.Fatalf("the intruder got %d conversations from a number it does not own", got)
		}

		// The owner registers the same number: not refused, and nothing in
		// the answer says someone else holds it.
		r = p.Do("POST", "/api/channels", ownerKey, map[string]any{"type": "whatsapp", "name": "Shop", "phone_number_id": pnID, "access_token": "owner-token"})
		if r.Status != http.StatusCreated {
			t.Fatalf("owner's channel = %d %s", r.Status, r.Body)
		}
		ownerCh := r.Map(t)["id"].(string)
		waitCheck(t, p, ownerKey, ownerCh, "ok")

		// The message that waited reaches the owner, and so does the next.
		deliver(t, p, whatsapptest.TextWebhook(whatsapptest.Inbound{PhoneNumberID: pnID, From: ana, Name: "Ana", ID: "wamid.AFTER1", Time: clk.Now()}, "Hello?"))
		apptest.Eventually(t, "both messages in the owner's conversation", func() bool {
			texts := customerTexts(t, p, ownerKey)
			return len(texts) == 2 && texts["Is my order ready?"] && texts["Hello?"]
		})
		if got := conversationCount(t, p, intruderKey); got != 0 {
			t.Fatalf("the intruder got %d conversations", got)
		}
		// A third tenant with no proof is not refused either (no 409 that
		// would tell it the number is taken).
		_, thirdKey := p.Tenant("Curious")
		r = p.Do("POST", "/api/channels", thirdKey, map[string]any{"type": "whatsapp", "name": "Probe", "phone_number_id": pnID, "access_token": "guess"})
		if r.Status != http.StatusCreated {
			t.Fatalf("third tenant's channel = %d %s", r.Status, r.Body)
		}
	})
}

// The phone_number_id is Meta's numeric id: anything else is refused at
// creation, with a machine-readable code, and no channel is stored.
func TestWhatsAppChannelPhoneNumberIDMustBeNumeric(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		p := apptest.Start(t, engine, nil, nil)
		_, key := p.Tenant("Acme")
		for _, bad := range []string{"+15550001111", "abc", "1060 0001", "1e6"} {
			r := p.Do("POST", "/api/channels", key, map[string]any{"type": "whatsapp", "name": "Main", "phone_number_id": bad, "access_token": "t"})
			var e struct {
				Error struct{ Code, Field string }
			}
			r.JSON(t, &e)
			if r.Status != http.StatusUnprocessableEntity || e.Error.Code != "validation_failed" || e.Error.Field != "phone_number_id" {
				t.Fatalf("phone_number_id %q: %d %s", bad, r.Status, r.Body)
			}
		}
		var list struct{ Items []any }
		p.Do("GET", "/api/channels", key, nil).JSON(t, &list)
		if len(list.Items) != 0 {
			t.Fatalf("channels stored: %d", len(list.Items))
		}
	})
}

func waitCheck(t *testing.T, p *apptest.Parley, key, id, want string) {
	t.Helper()
	apptest.Eventually(t, "channel check "+want, func() bool {
		var ch struct{ Settings map[string]string }
		p.Do("GET", "/api/channels/"+id, key, nil).JSON(t, &ch)
		return ch.Settings["check"] == want
	})
}

func deliver(t *testing.T, p *apptest.Parley, body []byte) {
	t.Helper()
	whatsapptest.MustPost(t, p.URL(), appSecret, body)
}

func conversationCount(t *testing.T, p *apptest.Parley, key string) int {
	t.Helper()
	var list struct{ Items []any }
	p.Do("GET", "/api/conversations", key, nil).JSON(t, &list)
	return len(list.Items)
}

// customerTexts are the customer's messages in all of a tenant's conversations.
func customerTexts(t *testing.T, p *apptest.Parley, key string) map[string]bool {
	t.Helper()
	var list struct{ Items []struct{ ID string } }
	p.Do("GET", "/api/conversations", key, nil).JSON(t, &list)
	out := map[string]bool{}
	for _, c := range list.Items {
		var ms struct {
			Items []struct{ Role, Content string }
		}
		p.Do("GET", "/api/conversations/"+c.ID+"/messages", key, nil).JSON(t, &ms)
		for _, m := range ms.Items {
			if m.Role == "customer" {
				out[m.Content] = true
			}
		}
	}
	return out
}

// A verified channel whose token is changed is not trusted on the old
// check: its number's messages wait until the new token is checked.
func TestChangedTokenIsCheckedBeforeRouting(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		_, clk, p := startOwners(t, engine, "other-token")
		_, key := p.Tenant("Lima Shop")
		r := p.Do("POST", "/api/channels", key, map[string]any{"type": "whatsapp", "name": "Shop", "phone_number_id": pnID, "access_token": "owner-token"})
		if r.Status != http.StatusCreated {
			t.Fatalf("channel = %d %s", r.Status, r.Body)
		}
		id := r.Map(t)["id"].(string)
		waitCheck(t, p, key, id, "ok")

		r = p.Do("PATCH", "/api/channels/"+id, key, map[string]any{"access_token": "other-token"})
		var patched struct{ Settings map[string]string }
		r.JSON(t, &patched)
		if r.Status != http.StatusOK || patched.Settings["check"] != "" {
			t.Fatalf("after a new token the old check still shows: %d %s", r.Status, r.Body)
		}
		waitCheck(t, p, key, id, "failed")
		deliver(t, p, whatsapptest.TextWebhook(whatsapptest.Inbound{PhoneNumberID: pnID, From: ana, Name: "Ana", ID: "wamid.WAIT1", Time: clk.Now()}, "Anyone there?"))
		if got := conversationCount(t, p, key); got != 0 {
			t.Fatalf("routed on a failed check: %d conversations", got)
		}

		if r := p.Do("PATCH", "/api/channels/"+id, key, map[string]any{"access_token": "owner-token"}); r.Status != http.StatusOK {
			t.Fatalf("PATCH = %d %s", r.Status, r.Body)
		}
		waitCheck(t, p, key, id, "ok")
		apptest.Eventually(t, "the held message in the conversation", func() bool {
			return customerTexts(t, p, key)["Anyone there?"]
		})
	})
}

// While nobody has proven a number, its messages are held, not routed, and
// counted; a status still reaches the message its own channel sent (a wamid
// names one message), so an unproven channel's sends keep their receipts.
func TestUnprovenNumberHoldsMessagesButTakesItsStatuses(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, e *env) {
		e.deliver(e.text("wamid.V0", ana, "Ana", "hi"))
		conv := e.message("wamid.V0").ConversationID
		out := e.outbound(conv, "wamid.VOUT", parley.StatusSent)

		ch := e.ch
		ch.Settings = map[string]string{parley.SettingCheck: parley.CheckFailed, parley.SettingCheckError: "token cannot read the number"}
		if err := e.Store.UpdateChannel(context.Background(), ch); err != nil {
			t.Fatal(err)
		}
		e.deliver(e.text("wamid.V1", ana, "Ana", "still there?"))
		e.deliver(e.text("wamid.V1", ana, "Ana", "still there?")) // Meta redelivers
		e.deliver(whatsapptest.StatusWebhook(whatsapptest.StatusEvent{PhoneNumberID: pnID, MessageID: "wamid.VOUT", Status: "delivered", RecipientID: ana, Time: e.clk.Now()}))

		if m, err := e.Store.GetMessage(context.Background(), e.tenant.ID, out.ID); err != nil || m.Status != parley.StatusDelivered {
			t.Fatalf("status of the channel's own message = %v %v", m.Status, err)
		}
		if got := len(e.messages(conv)); got != 1 {
			t.Fatalf("customer messages = %d, want only the one from before", got)
		}
		if held, dup := e.metric("whatsapp", "held_unverified"), e.metric("whatsapp", "duplicate"); held != 1 || dup != 1 {
			t.Fatalf("held = %v, duplicate = %v", held, dup)
		}
	})
}

// A check recorded after the channel was edited meanwhile keeps the edit:
// the checker writes its result onto the row as it is then, not as it read
// it before the Graph API answered.
func TestCheckKeepsAnEditMadeWhileItRan(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		graph, _, p := startOwners(t, engine, "")
		graph.Script(whatsapptest.Hang())
		tn, key := p.Tenant("Lima Shop")
		r := p.Do("POST", "/api/channels", key, map[string]any{"type": "whatsapp", "name": "Shop", "phone_number_id": pnID, "access_token": "owner-token"})
		if r.Status != http.StatusCreated {
			t.Fatalf("channel = %d %s", r.Status, r.Body)
		}
		id := r.Map(t)["id"].(string)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := graph.WaitHanging(ctx, 1); err != nil {
			t.Fatal(err)
		}
		// Switched off and its Business Account named (as the dashboard
		// does), and renamed through the API, while the check waits for Meta.
		if err := p.Store.SetChannelActive(context.Background(), tn.ID, id, false); err != nil {
			t.Fatal(err)
		}
		if err := p.Store.SetChannelSetting(context.Background(), tn.ID, id, "waba_id", "102290129340398"); err != nil {
			t.Fatal(err)
		}
		if r := p.Do("PATCH", "/api/channels/"+id, key, map[string]any{"name": "Shop front"}); r.Status != http.StatusOK {
			t.Fatalf("rename = %d %s", r.Status, r.Body)
		}
		graph.Release()
		waitCheck(t, p, key, id, "ok")
		ch, err := p.Store.GetChannel(context.Background(), tn.ID, id)
		if err != nil || ch.Active || ch.Name != "Shop front" || ch.Settings["waba_id"] != "102290129340398" {
			t.Fatalf("the check's result undid an edit: active %v, name %q, settings %v, %v", ch.Active, ch.Name, ch.Settings, err)
		}
	})
}

// startOwners starts Parley against a Graph API that knows the owner's
// number (pnID, "owner-token") and, given otherToken, a second number that
// token really owns.
func startOwners(t *testing.T, engine store.Engine, otherToken string) (*whatsapptest.FakeGraph, *clock.Fake, *apptest.Parley) {
	t.Helper()
	graph := whatsapptest.NewFakeGraph()
	t.Cleanup(graph.Close)
	graph.AddNumber(whatsapptest.Number{ID: pnID, Token: "owner-token", Display: "+1 555-000-2222", VerifiedName: "Lima Shop"})
	if otherToken != "" {
		graph.AddNumber(whatsapptest.Number{ID: "106000000000099", Token: otherToken, Display: "+1 555-000-9999", VerifiedName: "Other"})
	}
	clk := clock.NewFake(now())
	p := apptest.Start(t, engine, clk, func(c *config.Config) {
		c.WhatsAppAppSecret, c.WhatsAppVerifyToken, c.WhatsAppGraphURL = appSecret, verifyToken, graph.URL
	})
	return graph, clk, p
}

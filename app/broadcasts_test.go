package app_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/llm/llmtest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

const bcWABA = "102000000000888"

// bcWorld is a whole Parley with a WhatsApp number whose Business Account
// holds an approved marketing template, on a clock the test moves: Monday
// 7 December 2026, 10:00 in São Paulo, inside the tenant's hours (Monday
// to Friday, 09:00–18:00).
type bcWorld struct {
	*apptest.Parley
	graph   *whatsapptest.FakeGraph
	clk     *clock.Fake
	tenant  parley.Tenant
	key     string
	channel string
}

var bcStart = time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC) // 10:00 in São Paulo

func newBroadcastWorld(t *testing.T, engine store.Engine) *bcWorld {
	t.Helper()
	graph := whatsapptest.NewFakeGraph()
	t.Cleanup(graph.Close)
	graph.AddNumber(whatsapptest.Number{ID: numberID, Token: token, Display: "+1 555-000-0123", VerifiedName: "Acme"})
	sale := whatsapptest.BodyTemplate("winter_sale", "en_US", "Hi {{1}}, our winter sale starts today.")
	sale.Category = "MARKETING"
	graph.AddAccount(bcWABA, token, sale, whatsapptest.BodyTemplate("order_update", "en_US", "Order {{1}}: {{2}}"))
	model := llmtest.Start(llmtest.Options{APIKey: "llm-key", Responder: func(llmtest.Request) llmtest.Reply { return answer("Happy to help.", false) }})
	t.Cleanup(model.Close)
	clk := clock.NewFake(bcStart)
	p := apptest.Start(t, engine, clk, func(c *config.Config) {
		c.WhatsAppGraphURL, c.WhatsAppAppSecret = graph.URL, secret
		c.LLMBaseURL, c.LLMAPIKey, c.LLMModel = model.URL, "llm-key", "fake-model"
		c.WhatsAppRateLimit = 1000                    // the broadcast's own rate is under test
		c.JobRescueAfter = 100 * 365 * 24 * time.Hour // River's rescuer reads the wall clock
	})
	p.ShowLogsOnFailure(t)
	tenant, key := p.Tenant("Acme")
	w := &bcWorld{Parley: p, graph: graph, clk: clk, tenant: tenant, key: key}
	week := map[string]any{}
	for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday"} {
		week[d] = []map[string]string{{"start": "09:00", "end": "18:00"}}
	}
	w.must(t, "PATCH", "/api/tenant", map[string]any{"time_zone": "America/Sao_Paulo", "availability": week}, http.StatusOK)
	ch := w.must(t, "POST", "/api/channels", map[string]any{"type": "whatsapp", "name": "Main", "phone_number_id": numberID, "access_token": token,
		"settings": map[string]string{"waba_id": bcWABA}}, http.StatusCreated)
	w.channel = ch["id"].(string)
	w.must(t, "POST", "/api/templates/sync", nil, http.StatusOK)
	graph.SendStatuses(p.URL()+"/webhooks/whatsapp", secret)
	return w
}

func (w *bcWorld) must(t *testing.T, method, path string, body any, want int) map[string]any {
	t.Helper()
	r := w.Do(method, path, w.key, body)
	if r.Status != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, r.Status, r.Body, want)
	}
	if len(r.Body) == 0 || r.Body[0] != '{' {
		return nil
	}
	return r.Map(t)
}

// customers stores n customers named "Cliente <i> Silva", phones
// +55119000<i>, with tags, in one transaction (an import, not the subject).
func (w *bcWorld) customers(t *testing.T, from, n int, tags ...string) []string {
	t.Helper()
	phones := make([]string, n)
	err := w.Store.InTx(context.Background(), func(q *store.Queries) error {
		for i := range n {
			phones[i] = fmt.Sprintf("+55119%07d", from+i)
			c, err := q.CreateCustomer(context.Background(), parley.Customer{TenantID: w.tenant.ID, Phone: phones[i],
				Name: fmt.Sprintf("Cliente%d Silva", from+i), Language: "en"})
			if err != nil {
				return err
			}
			if err := q.SetCustomerTags(context.Background(), w.tenant.ID, c.ID, tags); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return phones
}

// write posts a signed text webhook from phone, as Meta would.
func (w *bcWorld) write(t *testing.T, phone, text string) {
	t.Helper()
	digits := strings.TrimPrefix(phone, "+")
	whatsapptest.MustPost(t, w.URL(), secret, whatsapptest.TextWebhook(whatsapptest.Inbound{PhoneNumberID: numberID, From: digits,
		Name: "Cliente", ID: fmt.Sprintf("wamid.%s.%d", digits, w.clk.Now().UnixNano()), Time: w.clk.Now()}, text))
}

// templatesOnTheWire counts the broadcast template sends the fake Graph API
// accepted, by phone.
func (w *bcWorld) templatesOnTheWire(name string) map[string][]whatsapptest.SentMessage {
	out := map[string][]whatsapptest.SentMessage{}
	for _, m := range w.graph.Sent() {
		if m.Type == "template" && m.Template != nil && m.Template.Name == name {
			out[m.To] = append(out[m.To], m)
		}
	}
	return out
}

func (w *bcWorld) textsTo(phone string) []string {
	var out []string
	for _, m := range w.graph.SentTo(phone) {
		if m.Type == "text" {
			out = append(out, m.Text)
		}
	}
	return out
}

type bcView struct {
	ID          string               `json:"id"`
	Status      string               `json:"status"`
	Total       int                  `json:"total"`
	Category    string               `json:"category"`
	NextSendAt  time.Time            `json:"next_send_at"`
	ScheduledAt time.Time            `json:"scheduled_at"`
	Stats       store.BroadcastStats `json:"stats"`
	Progress    int                  `json:"progress"`
	Cost        campaign.Cost        `json:"cost"`
}

func (w *bcWorld) broadcast(t *testing.T, id string) bcView {
	t.Helper()
	var v bcView
	r := w.Do("GET", "/api/broadcasts/"+id, w.key, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET broadcast = %d %s", r.Status, r.Body)
	}
	r.JSON(t, &v)
	return v
}

func (w *bcWorld) recipients(t *testing.T, id, outcome string) []store.BroadcastRecipient {
	t.Helper()
	var all []store.BroadcastRecipient
	cursor := ""
	for {
		var page struct {
			Items      []store.BroadcastRecipient `json:"items"`
			NextCursor string                     `json:"next_cursor"`
		}
		r := w.Do("GET", fmt.Sprintf("/api/broadcasts/%s/recipients?outcome=%s&limit=200&cursor=%s", id, outcome, cursor), w.key, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("GET recipients = %d %s", r.Status, r.Body)
		}
		r.JSON(t, &page)
		all = append(all, page.Items...)
		if len(all) > 5000 {
			t.Fatalf("runaway paging: cursor %q, %d items, first %+v", page.NextCursor, len(page.Items), page.Items[0])
		}
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
}

// nextTurn moves the clock by d and runs the pacer now (its periodic job
// runs on the wall clock too: turns are taken by compare-and-swap, so both
// at once still send one turn).
func (w *bcWorld) nextTurn(t *testing.T, d time.Duration) {
	t.Helper()
	w.clk.Advance(d)
	if err := w.Broadcasts.Pace(context.Background()); err != nil {
		t.Fatalf("pace: %v", err)
	}
}

// A business sends its approved marketing template to the 1,000 customers
// tagged "winter": 80 a second as asked, each turn waiting for the clock,
// held overnight outside the business's hours, never to a customer who
// wrote STOP (or ARRÊTER, in the middle of it), who is told once; every
// other customer gets it exactly once, with their first name, and the
// stats and the cost follow the provider's statuses.
func TestBroadcastToAThousandCustomersIsPacedAndHonoursOptOuts(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		w := newBroadcastWorld(t, e)
		winter := w.customers(t, 0, 1000, "winter")
		others := w.customers(t, 5000, 5, "summer")

		// Before the broadcast, one customer opts out and is told
		// once; writing it again is not answered at all.
		early := winter[3]
		w.write(t, early, "STOP")
		apptest.Eventually(t, "the opt-out confirmation", func() bool { return len(w.textsTo(early)) == 1 })
		w.clk.Advance(time.Minute)
		w.write(t, early, " stop. ")
		w.Settle()

		const rate = 80
		created := w.must(t, "POST", "/api/broadcasts", map[string]any{"name": "Winter sale", "channel_id": w.channel,
			"template_name": "winter_sale", "language": "en_US", "parameters": []string{"{{first_name}}"},
			"segment": map[string]any{"tags": []string{"winter"}}, "rate_per_second": rate, "send_at": "2026-12-07T10:02"}, http.StatusCreated)
		id := created["id"].(string)
		if created["total"].(float64) != 1000 || created["category"] != "marketing" {
			t.Fatalf("created %v", created)
		}

		// A customer who opted out before is decided at creation; at
		// 10:02, and then every second, a turn decides the next 80
		// pending recipients.
		pending := w.broadcast(t, id).Stats.Pending
		if pending != 999 {
			t.Fatalf("%d pending at creation, want 999 (one opted out)", pending)
		}
		w.nextTurn(t, time.Minute)
		var late string // opts out in the middle of the broadcast
		var v bcView
		sent := 0
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("last seen: %+v, %d on the wire", v, sent)
			}
		})
		for turn := 1; ; turn++ {
			pending = max(0, pending-rate)
			apptest.Eventually(t, fmt.Sprintf("turn %d", turn), func() bool {
				v, sent = w.broadcast(t, id), 0
				for _, ms := range w.templatesOnTheWire("winter_sale") {
					sent += len(ms)
				}
				return v.Stats.Pending == pending && sent == v.Stats.Total-v.Stats.Pending-v.Stats.OptedOut
			})
			// The clock stands still: no second turn comes, however
			// often the pacer runs.
			if err := w.Broadcasts.Pace(context.Background()); err != nil {
				t.Fatal(err)
			}
			if again := w.broadcast(t, id); again.Stats.Pending != v.Stats.Pending {
				t.Fatalf("turn %d: the pacer sent %d more within the same second", turn, v.Stats.Pending-again.Stats.Pending)
			}
			if pending == 0 {
				break
			}
			switch turn {
			case 1:
				rest := w.recipients(t, id, "pending")
				late = rest[len(rest)-1].Phone
				w.write(t, late, "Arrêter")
				apptest.Eventually(t, "the late opt-out's confirmation", func() bool { return len(w.textsTo(late)) == 1 })
			case 4:
				// 18:00 in São Paulo: the broadcast waits for
				// Tuesday 09:00, and says so.
				w.nextTurn(t, 8*time.Hour)
				held := w.broadcast(t, id)
				if held.Stats.Pending != v.Stats.Pending || !held.NextSendAt.Equal(time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)) {
					t.Fatalf("after hours: pending %d → %d, next send at %s", v.Stats.Pending, held.Stats.Pending, held.NextSendAt)
				}
				w.clk.Set(time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC).Add(-time.Second))
			}
			w.nextTurn(t, time.Second)
		}

		// On the wire: everyone tagged once, with their first name;
		// nobody who opted out; nobody outside the segment.
		apptest.Eventually(t, "the sent statuses", func() bool { return w.broadcast(t, id).Stats.Sent == 998 })
		onWire := w.templatesOnTheWire("winter_sale")
		for i, phone := range winter {
			ms := onWire[phone]
			switch {
			case phone == early || phone == late:
				if len(ms) != 0 {
					t.Errorf("%s opted out and was sent the broadcast %d times", phone, len(ms))
				}
			case len(ms) != 1:
				t.Errorf("%s was sent the broadcast %d times", phone, len(ms))
			case !slices.Equal(ms[0].Template.BodyParams, []string{fmt.Sprintf("Cliente%d", i)}) || ms[0].Template.Language != "en_US":
				t.Errorf("%s got %+v", phone, *ms[0].Template)
			}
		}
		for _, phone := range others {
			if len(onWire[phone]) != 0 {
				t.Errorf("%s is outside the segment and was sent the broadcast", phone)
			}
		}
		for _, phone := range []string{early, late} {
			if texts := w.textsTo(phone); len(texts) != 1 || !strings.Contains(texts[0], "You will not receive our broadcasts") {
				t.Errorf("%s was told %q, want one confirmation", phone, texts)
			}
		}

		// A customer replies; another's phone shows it read.
		reader, replier := winter[10], winter[11]
		w.clk.Advance(time.Minute)
		whatsapptest.MustPost(t, w.URL(), secret, whatsapptest.StatusWebhook(whatsapptest.StatusEvent{PhoneNumberID: numberID,
			MessageID: onWire[reader][0].ID, Status: "read", RecipientID: strings.TrimPrefix(reader, "+"), Time: w.clk.Now()}))
		w.write(t, replier, "Do you have it in blue?")
		apptest.Eventually(t, "read and replied in the stats", func() bool {
			v = w.broadcast(t, id)
			return v.Stats.Read == 1 && v.Stats.Replied == 1
		})
		if v.Status != store.BroadcastFinished || v.Progress != 100 || v.Stats.OptedOut != 2 || v.Stats.Failed != 0 || v.Stats.Sent != 998 {
			t.Fatalf("finished broadcast %+v", v)
		}
		if v.Cost.Messages != 998 || v.Cost.UnitPrice != campaign.DefaultPrices["marketing"] || fmt.Sprintf("%.2f", v.Cost.Estimate) != "24.95" {
			t.Fatalf("cost %+v", v.Cost)
		}
		out := w.recipients(t, id, "opted_out")
		if len(out) != 2 || out[0].Reason != store.ReasonOptedOut {
			t.Fatalf("opted-out recipients %+v", out)
		}
		if got := []string{out[0].Phone, out[1].Phone}; !slices.Contains(got, early) || !slices.Contains(got, late) {
			t.Fatalf("opted-out recipients %v, want %s and %s", got, early, late)
		}
	})
}

// A broadcast scheduled in the tenant's local time waits for it, can be
// cancelled in the middle (nobody else is sent it), and a request that
// cannot be sent is refused with a code and stores nothing. Another
// tenant sees none of it.
func TestBroadcastScheduledCancelledAndRefused(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		w := newBroadcastWorld(t, e)
		phones := w.customers(t, 0, 60, "vip")

		for _, c := range []struct {
			name string
			body map[string]any
			code string
		}{
			{"no template", map[string]any{"channel_id": w.channel, "template_name": "  "}, campaign.CodeTemplateRequired},
			{"unsynced", map[string]any{"channel_id": w.channel, "template_name": "spring_sale"}, campaign.CodeNotSynced},
			{"parameters", map[string]any{"channel_id": w.channel, "template_name": "order_update", "parameters": []string{"1"}}, campaign.CodeParameterMismatch},
			{"empty segment", map[string]any{"channel_id": w.channel, "template_name": "winter_sale", "parameters": []string{"x"},
				"segment": map[string]any{"tags": []string{"nobody"}}}, campaign.CodeEmptySegment},
			{"rate", map[string]any{"channel_id": w.channel, "template_name": "winter_sale", "parameters": []string{"x"}, "rate_per_second": 500}, campaign.CodeRateOutOfRange},
			{"send_at", map[string]any{"channel_id": w.channel, "template_name": "winter_sale", "parameters": []string{"x"}, "send_at": "tomorrow"}, campaign.CodeBadSendAt},
			{"placeholder", map[string]any{"channel_id": w.channel, "template_name": "winter_sale", "parameters": []string{"{{email}}"}}, campaign.CodeUnknownValue},
		} {
			if r := w.Do("POST", "/api/broadcasts", w.key, c.body); r.Status != http.StatusUnprocessableEntity || r.ErrorCode() != c.code {
				t.Errorf("%s: %d %s, want 422 %s", c.name, r.Status, r.Body, c.code)
			}
		}

		created := w.must(t, "POST", "/api/broadcasts", map[string]any{"channel_id": w.channel, "template_name": "winter_sale",
			"parameters": []string{"{{name}}"}, "segment": map[string]any{"tags": []string{"vip"}}, "send_at": "2026-12-07T11:00", "rate_per_second": 20},
			http.StatusCreated)
		id := created["id"].(string)
		if v := w.broadcast(t, id); !v.ScheduledAt.Equal(bcStart.Add(time.Hour)) || v.Status != store.BroadcastScheduled {
			t.Fatalf("scheduled %s (%s), want 11:00 in São Paulo", v.ScheduledAt, v.Status)
		}
		var list struct{ Items []bcView }
		w.Do("GET", "/api/broadcasts", w.key, nil).JSON(t, &list)
		if len(list.Items) != 1 {
			t.Fatalf("refused requests stored broadcasts: %d listed", len(list.Items))
		}

		w.nextTurn(t, 59*time.Minute)
		w.Settle()
		if n := len(w.templatesOnTheWire("winter_sale")); n != 0 {
			t.Fatalf("%d sent before 11:00", n)
		}
		w.nextTurn(t, time.Minute)
		apptest.Eventually(t, "the first turn", func() bool { return len(w.templatesOnTheWire("winter_sale")) == 20 })
		if m := w.templatesOnTheWire("winter_sale")[phones[0]]; len(m) != 1 || m[0].Template.BodyParams[0] != "Cliente0 Silva" {
			t.Fatalf("first recipient got %+v", m)
		}

		other, otherKey := w.Tenant("Other")
		_ = other
		for _, path := range []string{"/api/broadcasts/" + id, "/api/broadcasts/" + id + "/recipients"} {
			if r := w.Do("GET", path, otherKey, nil); r.Status != http.StatusNotFound {
				t.Errorf("another tenant GET %s = %d", path, r.Status)
			}
		}
		if r := w.Do("POST", "/api/broadcasts/"+id+"/cancel", otherKey, nil); r.Status != http.StatusNotFound {
			t.Errorf("another tenant cancelled: %d", r.Status)
		}

		v := w.must(t, "POST", "/api/broadcasts/"+id+"/cancel", nil, http.StatusOK)
		if v["status"] != store.BroadcastCancelled {
			t.Fatalf("cancel = %v", v)
		}
		for range 3 {
			w.nextTurn(t, time.Second)
		}
		w.Settle()
		if n := len(w.templatesOnTheWire("winter_sale")); n != 20 {
			t.Fatalf("%d sent after the cancel, want the first turn's 20", n)
		}
		if st := w.broadcast(t, id).Stats; st.Cancelled != 40 || st.Pending != 0 {
			t.Fatalf("stats after cancel %+v", st)
		}
		if r := w.Do("POST", "/api/broadcasts/"+id+"/cancel", w.key, nil); r.Status != http.StatusConflict {
			t.Fatalf("cancelling twice = %d %s", r.Status, r.Body)
		}
	})
}

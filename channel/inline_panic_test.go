package channel_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

type panickingReceiver struct{}

func (panickingReceiver) Receive(context.Context, *store.Queries, channel.Inbound) (parley.Conversation, error) {
	panic("receiver bug")
}

// A panic while a webhook's messages are taken in right after its answer
// does not bring the process down: the run is logged and its backstop job
// is made due at once, so the queue takes the message in (and retries).
func TestInlinePanicHandsTheMessageBackToItsJob(t *testing.T) {
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			clk := clock.NewFake(now())
			st := storetest.Open(t, engine, clk)
			ctx := context.Background()
			tn, err := st.CreateTenant(ctx, parley.Tenant{Name: "Acme"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.CreateChannel(ctx, parley.Channel{TenantID: tn.ID, Type: parley.ChannelWhatsApp, Name: "main",
				PhoneNumberID: pnID, AccessToken: "token-main", Active: true,
				Settings: map[string]string{parley.SettingCheck: parley.CheckOK}}); err != nil { // routed: its ownership check passed
				t.Fatal(err)
			}
			jc, err := jobs.NewClient(st, nil, jobs.Config{}) // insert-only: nothing works the backstop here
			if err != nil {
				t.Fatal(err)
			}
			ins := &jobs.Inserter{}
			ins.Set(jc)
			logs := &apptest.LogBuffer{}
			g := channel.New(channel.Config{Store: st, Jobs: ins, Receiver: panickingReceiver{}, Log: slog.New(slog.NewJSONHandler(logs, nil)),
				WhatsAppAppSecret: appSecret, Inline: 2})
			mux := http.NewServeMux()
			g.Mount(mux)
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)

			body := whatsapptest.TextWebhook(whatsapptest.Inbound{PhoneNumberID: pnID, From: ana, Name: "Ana", ID: "wamid.PANIC", Time: clk.Now()}, "hello")
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/whatsapp", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Hub-Signature-256", whatsapptest.Sign(appSecret, body))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("webhook: %d", res.StatusCode)
			}
			apptest.Eventually(t, "the backstop job due at once", func() bool {
				l, err := jc.JobList(ctx, river.NewJobListParams().Kinds(receivedKind))
				return err == nil && len(l.Jobs) == 1 && l.Jobs[0].State == rivertype.JobStateAvailable
			})
			if !strings.Contains(logs.String(), "receiver bug") {
				t.Fatalf("the panic is not logged:\n%s", logs.String())
			}
			g.Close(ctx) // the slot was given back: nothing to wait for
		})
	}
}

package channel_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/whatsapp"
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

// A panic while the receive stage takes a message in does not bring the
// process down: the turn is logged as failed and the message stays in the
// inbox, unprocessed, to be taken in again when its lease runs out.
func TestReceivePanicLeavesTheMessageForALaterTurn(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		clk := clock.NewFake(now())
		st := storetest.Open(t, engine, clk)
		ctx := context.Background()
		tn, err := st.CreateTenant(ctx, parley.Tenant{Name: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		ch, err := st.CreateChannel(ctx, parley.Channel{TenantID: tn.ID, Type: parley.ChannelWhatsApp, Name: "main",
			PhoneNumberID: pnID, AccessToken: "token-main", Active: true,
			Settings: map[string]string{parley.SettingCheck: parley.CheckOK}}) // routed: its ownership check passed
		if err != nil {
			t.Fatal(err)
		}
		jc, err := jobs.NewClient(st, nil, jobs.Config{}) // insert-only
		if err != nil {
			t.Fatal(err)
		}
		ins := &jobs.Inserter{}
		ins.Set(jc)
		logs := &apptest.LogBuffer{}
		g := channel.New(channel.Config{Store: st, Jobs: ins, Receiver: panickingReceiver{}, Log: slog.New(slog.NewJSONHandler(logs, nil)),
			Providers: map[parley.ChannelType]channel.Provider{parley.ChannelWhatsApp: &whatsapp.Provider{AppSecret: appSecret}}, ReceiveLease: 10 * time.Second})
		mux := http.NewServeMux()
		g.Mount(mux)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		loopCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); g.Receiving().Run(loopCtx) }()
		t.Cleanup(func() { stop(); <-done })

		body := whatsapptest.TextWebhook(whatsapptest.Inbound{PhoneNumberID: pnID, From: ana, Name: "Ana", ID: "wamid.PANIC", Time: clk.Now()}, "hello")
		whatsapptest.MustPost(t, srv.URL, appSecret, body)
		attempts := func() int {
			return strings.Count(logs.String(), "receiver bug")
		}
		apptest.Eventually(t, "the panic logged", func() bool { return attempts() >= 1 })
		items, err := st.InboxByChannel(ctx, tn.ID, ch.ID)
		if err != nil || len(items) != 1 || items[0].ProcessedAt != nil {
			t.Fatalf("want the message kept unprocessed, got %+v (%v)", items, err)
		}
		// Its lease runs out: a later turn takes it again.
		clk.Advance(11 * time.Second)
		g.Receiving().Wake()
		apptest.Eventually(t, "the message tried again", func() bool { return attempts() >= 2 })
	})
}

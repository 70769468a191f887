package channel_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/whatsapp"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// FuzzWhatsAppWebhook drives the webhook handler, from the HTTP request to
// the committed transaction, with signed bodies seeded by the protocol
// package's fixtures. Whatever the body, the handler must not panic, must
// answer 200 or 413, and must store exactly the messages the parser made
// of it for our number, each whole: never a half-parsed one. Unsigned, the
// same body stores nothing.
//
//	go test ./channel -run '^$' -fuzz FuzzWhatsAppWebhook -fuzztime 1m -fuzzminimizetime 5s
//
// (Each run is a database transaction, so minimizing a new input is slow:
// keep -fuzzminimizetime short.)
func FuzzWhatsAppWebhook(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "channel", "whatsapp", "testdata", "webhook", "*.json"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"106000000000002"},"messages":[{"from":"1\u0000","id":"w\u0000","timestamp":"99999999999999","type":"text","text":{"body":"\u0000\ud800"}}]}}]}]}`))

	ctx := context.Background()
	st := storetest.Open(f, store.SQLite, nil)
	tn, err := st.CreateTenant(ctx, parley.Tenant{Name: "Fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	ch, err := st.CreateChannel(ctx, parley.Channel{TenantID: tn.ID, Type: parley.ChannelWhatsApp, Name: "main", PhoneNumberID: pnID, AccessToken: "t", Settings: map[string]string{parley.SettingCheck: parley.CheckOK}})
	if err != nil {
		f.Fatal(err)
	}
	client, err := jobs.NewClient(st, nil, jobs.Config{}) // insert-only: the jobs are not worked here
	if err != nil {
		f.Fatal(err)
	}
	ins := &jobs.Inserter{}
	ins.Set(client)
	mux := http.NewServeMux()
	channel.New(channel.Config{Store: st, Jobs: ins,
		Providers: map[parley.ChannelType]channel.Provider{parley.ChannelWhatsApp: &whatsapp.Provider{AppSecret: appSecret}}}).Mount(mux)

	post := func(body []byte, signature string) int {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/whatsapp", bytes.NewReader(body))
		if signature != "" {
			req.Header.Set(whatsapp.SignatureHeader, signature)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec.Code
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := st.DB().ExecContext(ctx, `DELETE FROM channel_inbox`); err != nil {
			t.Fatal(err)
		}
		if code := post(body, ""); code != http.StatusUnauthorized && code != http.StatusRequestEntityTooLarge {
			t.Fatalf("unsigned body answered %d", code)
		}
		if rows, _ := st.InboxByChannel(ctx, tn.ID, ch.ID); len(rows) != 0 {
			t.Fatalf("an unsigned body stored %d messages", len(rows))
		}

		code := post(body, whatsapptest.Sign(appSecret, body))
		rows, err := st.InboxByChannel(ctx, tn.ID, ch.ID)
		if err != nil {
			t.Fatal(err)
		}
		if code == http.StatusRequestEntityTooLarge {
			if len(rows) != 0 {
				t.Fatal("an oversized body stored messages")
			}
			return
		}
		if code != http.StatusOK {
			t.Fatalf("signed body answered %d, want 200", code)
		}
		want := map[string]whatsapp.Inbound{}
		if b, err := whatsapp.Parse(body); err == nil {
			for _, m := range b.Messages {
				if m.PhoneNumberID == pnID && clean(m.MessageID) != "" {
					if _, dup := want[clean(m.MessageID)]; !dup { // a repeated id is stored once
						want[clean(m.MessageID)] = m
					}
				}
			}
		}
		if len(rows) != len(want) {
			t.Fatalf("stored %d messages, the parser made %d for our number", len(rows), len(want))
		}
		for _, r := range rows {
			m, ok := want[r.ProviderMessageID]
			switch {
			case !ok:
				t.Fatalf("stored %q, which the parser did not make", r.ProviderMessageID)
			case r.Type != m.Type || r.Content != clean(m.Content) || r.Sender != clean(m.From):
				t.Fatalf("stored %s %q from %q, parsed %s %q from %q", r.Type, r.Content, r.Sender, m.Type, m.Content, m.From)
			case !known(r.Type):
				t.Fatalf("stored an unknown type name %q", r.Type)
			case r.Type == parley.MessageUnknown && r.Extra["raw"] == nil:
				t.Fatal("an unknown message was stored without its raw payload")
			}
		}
	})
}

// clean is what the gateway does to text before storing it.
func clean(s string) string {
	return string(bytes.ReplaceAll(bytes.ToValidUTF8([]byte(s), []byte("\uFFFD")), []byte{0}, nil))
}

func known(t parley.MessageType) bool {
	switch t {
	case parley.MessageText, parley.MessageInteractive, parley.MessageButton, parley.MessageImage, parley.MessageAudio,
		parley.MessageVideo, parley.MessageDocument, parley.MessageSticker, parley.MessageLocation, parley.MessageContacts,
		parley.MessageReaction, parley.MessageUnknown:
		return true
	}
	return false
}

package whatsapptest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/whatsapp"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
)

// An accepted send is followed by a signed "sent" status that echoes the
// callback data, redelivered until the receiver answers 200.
func TestStatusesAreRedeliveredUntilAcknowledged(t *testing.T) {
	const secret = "app-secret"
	var mu sync.Mutex
	var attempts int
	var got []whatsapp.StatusUpdate
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !whatsapp.VerifySignature(secret, body, r.Header.Get("X-Hub-Signature-256")) {
			t.Error("status webhook signature does not verify")
		}
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if attempts == 1 {
			w.WriteHeader(http.StatusInternalServerError) // down: Meta tries again
			return
		}
		p, err := whatsapp.Parse(body)
		if err != nil {
			t.Errorf("parse status webhook: %v", err)
		}
		got = append(got, p.Statuses...)
	}))
	defer recv.Close()

	f := newFake(t)
	f.SendStatuses(recv.URL, secret)
	code, _ := do(t, f, "POST", "/v23.0/"+pn+"/messages", "Bearer "+token, "application/json",
		`{"messaging_product":"whatsapp","to":"5511999990000","type":"text","text":{"body":"hi"},"biz_opaque_callback_data":"our-id-1"}`)
	if code != 200 {
		t.Fatalf("send = %d", code)
	}
	sent := f.Sent()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for f.StatusesPending() > 0 || len(sent) == 0 {
		if ctx.Err() != nil {
			t.Fatal("the status was never acknowledged")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if attempts != 2 || len(got) != 1 {
		t.Fatalf("%d deliveries, statuses %+v; want the status redelivered once after the 500", attempts, got)
	}
	if s := got[0]; s.MessageID != sent[0].ID || s.Status != parley.StatusSent || s.CallbackData != "our-id-1" || s.RecipientID != "5511999990000" {
		t.Fatalf("status %+v for send %s", s, sent[0].ID)
	}
}

// SetFaultRate fails about that share of sends with the mix given, and
// none once it is set back to 0.
func TestFaultRate(t *testing.T) {
	f := newFake(t)
	f.SetFaultRate(0.5, whatsapptest.ServerError(503))
	failed := 0
	for i := 0; i < 200; i++ {
		if code, _ := do(t, f, "POST", "/v23.0/"+pn+"/messages", "Bearer "+token, "application/json", good); code == 503 {
			failed++
		} else if code != 200 {
			t.Fatalf("send = %d", code)
		}
	}
	if failed < 60 || failed > 140 || f.Faults() != failed {
		t.Fatalf("%d of 200 sends failed (%d counted) at rate 0.5", failed, f.Faults())
	}
	if len(f.Sent()) != 200-failed {
		t.Fatalf("%d sends recorded, want %d", len(f.Sent()), 200-failed)
	}
	f.SetFaultRate(0)
	for i := 0; i < 20; i++ {
		if code, _ := do(t, f, "POST", "/v23.0/"+pn+"/messages", "Bearer "+token, "application/json", good); code != 200 {
			t.Fatalf("send at rate 0 = %d", code)
		}
	}
}

//go:build reliability

package reliability

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/twilio/twiliotest"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// blackHole accepts connections and never answers: a provider that hangs.
func blackHole(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestOutboundCallsTimeOut points the Graph API, Twilio and the LLM of a
// `parley serve` at a server that accepts connections and never answers.
// Every call gives up on its own timeout: the channel check and both
// channels' sends record a timeout and retry, the AI agent falls back to
// the holding reply after its attempts time out, and the process keeps
// answering. (SMTP's timeout is tested in leads.) The wiring is the same
// on both engines, so this runs on SQLite.
func TestOutboundCallsTimeOut(t *testing.T) {
	hole := "http://" + blackHole(t)
	dsn := storetest.DSN(t, store.SQLite)
	w := newWorld(t, dsn, worldOptions{noStatuses: true, env: []string{"PARLEY_WHATSAPP_GRAPH_URL=" + hole, "PARLEY_TWILIO_BASE_URL=" + hole,
		"PARLEY_LLM_BASE_URL=" + hole + "/v1", "PARLEY_LLM_TIMEOUT=2s", "PARLEY_JOB_TIMEOUT=90s", "PARLEY_JOB_RESCUE_AFTER=5m"}})
	addr := freeAddr(t)
	proc := w.start(addr)
	phones := w.setUp(proc, 1, "")
	const twilioSID, twilioToken = "AC0123456789abcdef0123456789abcdef", "reliability-twilio-token"
	var tw struct{ ID string }
	if _, err := w.api(addr, "POST", "/api/channels", map[string]any{"type": "twilio", "name": "Twilio", "display_number": "+15550001111",
		"settings": map[string]string{"account_sid": twilioSID, "auth_token": twilioToken}}, &tw); err != nil {
		t.Fatal(err)
	}

	s, err := store.Open(context.Background(), dsn, store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Webhooks go only to a number whose ownership check passed, and this
	// Graph API never answers: the number is taken as proven earlier (its
	// check passed before the API began to hang), so its sends are tried.
	chs, err := s.ChannelsByPhoneNumberID(context.Background(), numberID)
	if err != nil || len(chs) != 1 {
		t.Fatalf("the WhatsApp channel: %v %v", chs, err)
	}
	if chs[0].Settings == nil {
		chs[0].Settings = map[string]string{}
	}
	chs[0].Settings[parley.SettingCheck] = parley.CheckOK
	if err := s.UpdateChannel(context.Background(), chs[0]); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	body := whatsapptest.TextWebhook(whatsapptest.Inbound{PhoneNumberID: numberID, From: phones[0], Name: "C", ID: "wamid.HOLE1", Time: time.Now()}, question(0))
	whatsapptest.MustPost(t, "http://"+addr, appSecret, body)
	treq, err := twiliotest.NewWebhookRequest(context.Background(), twilioToken, "http://"+addr+"/webhooks/twilio/"+tw.ID,
		twiliotest.InboundText(twilioSID, "+5511988887777", "+15550001111", "Bia", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := http.DefaultClient.Do(treq); err != nil || res.StatusCode != 200 {
		t.Fatalf("twilio webhook: %v %v", res, err)
	}

	timedOut := func(kind string) int {
		var n int
		s.DB().QueryRow(`SELECT count(*) FROM river_job WHERE kind = $1 AND (errors LIKE '%Timeout exceeded%' OR errors LIKE '%deadline exceeded%')`, kind).Scan(&n)
		return n
	}
	// A send that timed out is retried by the send stage: its attempt is
	// counted on the message, which stays queued.
	sendsTimedOut := func() int {
		var n int
		s.DB().QueryRow(`SELECT count(*) FROM messages WHERE status = 'queued' AND send_attempts >= 1`).Scan(&n)
		return n
	}
	var holding int
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		s.DB().QueryRow(`SELECT count(*) FROM messages WHERE role = 'ai' AND content LIKE $1`, "%"+holdingMark+"%").Scan(&holding)
		if timedOut("check_channel") >= 1 && sendsTimedOut() >= 2 && holding >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes: check timed out %d, sends timed out %d, holding replies %d\n%s",
				timedOut("check_channel"), sendsTimedOut(), holding, tail(proc.log.String(), 40))
		}
	}
	if res, err := http.Get("http://" + addr + "/healthz"); err != nil || res.StatusCode != 200 || !proc.alive() {
		t.Fatalf("parley stopped answering: %v %v", res, err)
	}
	if !strings.Contains(proc.log.String(), "LLM failed") {
		t.Error("the AI agent's model calls did not fail over to the holding reply")
	}
	line := fmt.Sprintf("the channel check, both channels' sends and the model gave up on their own timeouts within %s; the process kept answering", time.Since(start).Round(time.Second))
	t.Log(line)
	fmt.Println("reliability:", t.Name()+":", line)
}

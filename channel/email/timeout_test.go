package email_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/email"
	"github.com/parleyhq/parley/netguard"
)

// An SMTP server that accepts the connection and never greets does not
// hold a sequence step forever: the send gives up on its timeout.
func TestSMTPSendTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, silent, until the test ends
		}
	}()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	portN, _ := strconv.Atoi(port)
	sender := parley.EmailSender{Host: host, Port: portN, FromAddress: "sales@acme.example", TLS: parley.TLSNone}
	start := time.Now()
	allow, err := netguard.ParseAllow("127.0.0.0/8") // as PARLEY_OUTBOUND_ALLOW would
	if err != nil {
		t.Fatal(err)
	}
	err = email.SMTPMailer{Timeout: time.Second, Guard: netguard.New(allow, netguard.SMTPPorts)}.Send(context.Background(), sender, email.Email{To: "jane@acme.com", Subject: "Hi", Body: "Hello"})
	if err == nil {
		t.Fatal("a silent server took the e-mail")
	}
	if errors.Is(err, email.ErrMailRejected) {
		t.Fatalf("refused rather than timed out: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("gave up after %s with a 1s timeout", d)
	}
}

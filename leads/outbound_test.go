package leads_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app/apptest"
	"github.com/parleyhq/parley/channel/email"
	"github.com/parleyhq/parley/leads"
	"github.com/parleyhq/parley/netguard"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// A site's SMTP server on an address of the operator's own network is not
// dialed: the step fails and says what was refused (issue 15).
func TestSMTPServerOnLoopbackIsRefused(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, envOpts{guarded: true})
		if res, _ := e.followUp(e.key, e.body(map[string]any{"schedule": true})); res.Status != 200 {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		s := e.waitStep(0, parley.StepFailed)
		if d := s.Steps[0].Detail; !strings.Contains(d, "refused") || !strings.Contains(d, "loopback address") || !strings.Contains(d, e.smtp.Addr) {
			t.Fatalf("detail = %q", d)
		}
		if n := len(e.smtp.Received()); n != 0 {
			t.Fatalf("%d mails reached the loopback server", n)
		}
	})
}

// What a tenant's SMTP server answers stays in Parley's log: neither the
// job's last_error nor the step's detail repeat it (issue 15).
func TestSMTPServerRepliesStayServerSide(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, envOpts{})
		// A server that answers the connection with a banner: a failure worth retrying.
		banner := rawSMTP(t, func(c net.Conn, _ *bufio.Reader) {
			c.Write([]byte("421 4.3.2 SECRET-BANNER redis-internal ready\r\n"))
		})
		e.pointSMTP(banner)
		if res, _ := e.followUp(e.key, e.body(map[string]any{"schedule": true})); res.Status != 200 {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		var lastError string
		apptest.Eventually(t, "the step job's error", func() bool {
			var jobs struct {
				Items []struct {
					LastError string `json:"last_error"`
				}
			}
			e.p.Do("GET", "/api/jobs?kind="+leads.StepArgs{}.Kind(), e.key, nil).JSON(t, &jobs)
			for _, j := range jobs.Items {
				if j.LastError != "" {
					lastError = j.LastError
					return true
				}
			}
			return false
		})
		if strings.Contains(lastError, "SECRET") || strings.Contains(lastError, "redis") || !strings.Contains(lastError, banner) {
			t.Fatalf("last_error = %q", lastError)
		}
		if !strings.Contains(e.p.Logs.String(), "SECRET-BANNER") {
			t.Fatal("the server's answer is not in Parley's log")
		}

		// A server that refuses the recipient for good: the step fails.
		refuser := rawSMTP(t, func(c net.Conn, r *bufio.Reader) {
			c.Write([]byte("220 mx.example ESMTP\r\n"))
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
				case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
					c.Write([]byte("250 mx.example\r\n"))
				case strings.HasPrefix(cmd, "RCPT"):
					c.Write([]byte("550 5.1.1 SECRET-RCPT internal user table says no\r\n"))
				case strings.HasPrefix(cmd, "QUIT"):
					c.Write([]byte("221 bye\r\n"))
					return
				default:
					c.Write([]byte("250 OK\r\n"))
				}
			}
		})
		e.pointSMTP(refuser)
		if res, _ := e.followUp(e.key, e.body(map[string]any{"schedule": true})); res.Status != 200 {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		s := e.waitStep(0, parley.StepFailed)
		if d := s.Steps[0].Detail; strings.Contains(d, "SECRET") || strings.Contains(d, "user table") || !strings.Contains(d, refuser) {
			t.Fatalf("detail = %q", d)
		}
	})
}

// pointSMTP moves the site's SMTP sender to addr (no TLS, no login).
func (e *env) pointSMTP(addr string) {
	e.t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	portN, _ := strconv.Atoi(port)
	res := e.p.Do("PATCH", "/api/sites/"+e.siteID, e.key, map[string]any{"email": map[string]any{"host": host, "port": portN,
		"from_address": "sales@acme.example", "from_name": "Acme Sales", "tls": "none"}})
	if res.Status != 200 {
		e.t.Fatalf("PATCH site: %d %s", res.Status, res.Body)
	}
}

// rawSMTP serves each connection with serve on 127.0.0.1 and returns the address.
func rawSMTP(t *testing.T, serve func(c net.Conn, r *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	return ln.Addr().String()
}

// Implicit TLS (port 465 style) goes through the guarded dialer too, and
// the login still works over it.
func TestSMTPImplicitTLSThroughTheGuard(t *testing.T) {
	t.Parallel()
	ts := httptest.NewTLSServer(nil) // for its certificate, valid for 127.0.0.1
	cert, roots := ts.TLS.Certificates[0], x509.NewCertPool()
	roots.AddCert(ts.Certificate())
	ts.Close()

	s := &smtpServer{User: "sales@acme.example", Password: "smtp-secret"}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{srv: s}, nil }))
	srv.Domain = "localhost"
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	host, port, _ := net.SplitHostPort(ln.Addr().String())
	portN, _ := strconv.Atoi(port)
	sender := parley.EmailSender{Host: host, Port: portN, Username: s.User, Password: s.Password, FromAddress: "sales@acme.example", TLS: parley.TLSImplicit}
	allow, _ := netguard.ParseAllow("127.0.0.0/8") // as PARLEY_OUTBOUND_ALLOW would
	m := email.SMTPMailer{Timeout: 5 * time.Second, Guard: netguard.New(allow, netguard.SMTPPorts), RootCAs: roots}
	if err := m.Send(context.Background(), sender, email.Email{To: "jane@acme.com", Subject: "Hi", Body: "Hello"}); err != nil {
		t.Fatal(err)
	}
	if got := s.Received(); len(got) != 1 || got[0].To[0] != "jane@acme.com" {
		t.Fatalf("received %+v", got)
	}
}

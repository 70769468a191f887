// Package email sends e-mail over the site's SMTP server (lead sequences).
package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/netguard"
)

// Email is one plain-text follow-up e-mail.
type Email struct {
	To, ToName string
	Subject    string
	Body       string
	// MessageID is stable per sequence step, so a retried send after a
	// crash can be recognized as the same message by the receiving side.
	MessageID string
	Date      time.Time
}

// Mailer sends e-mail with a site's SMTP configuration.
type Mailer interface {
	Send(ctx context.Context, sender parley.EmailSender, m Email) error
}

// ErrMailRejected is in the chain of a send the server refused for good
// (a 5xx answer, a bad address): retrying cannot help.
var ErrMailRejected = errors.New("mail rejected")

// SMTPMailer sends through the site's SMTP server with go-mail.
type SMTPMailer struct {
	Timeout time.Duration // per connection; default 30s
	// Guard decides which addresses a tenant's SMTP host may be: nil
	// allows public addresses on netguard.SMTPPorts only.
	Guard *netguard.Guard
	// Log gets what the server answered, which tenants are not shown.
	Log *slog.Logger
	// RootCAs verify a server on implicit TLS; nil: the system's roots.
	RootCAs *x509.CertPool
}

// Send delivers m over SMTP. A refusal that will not change is wrapped
// with ErrMailRejected; other failures (network, 4xx) are worth retrying.
func (s SMTPMailer) Send(ctx context.Context, sender parley.EmailSender, m Email) error {
	msg := gomail.NewMsg()
	if err := msg.FromFormat(sender.FromName, sender.FromAddress); err != nil {
		return fmt.Errorf("%w: from address %q: %v", ErrMailRejected, sender.FromAddress, err)
	}
	var err error
	if m.ToName != "" {
		err = msg.AddToFormat(m.ToName, m.To)
	} else {
		err = msg.To(m.To)
	}
	if err != nil {
		return fmt.Errorf("%w: recipient %q: %v", ErrMailRejected, m.To, err)
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, m.Body)
	if m.MessageID != "" {
		msg.SetMessageIDWithValue(m.MessageID)
	} else {
		msg.SetMessageID()
	}
	if !m.Date.IsZero() {
		msg.SetDateWithValue(m.Date)
	} else {
		msg.SetDate()
	}

	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	opts := []gomail.Option{gomail.WithTimeout(timeout), gomail.WithDialContextFunc(s.dial(sender, timeout))}
	if sender.Port != 0 {
		opts = append(opts, gomail.WithPort(sender.Port))
	}
	switch sender.TLS {
	case parley.TLSImplicit:
		opts = append(opts, gomail.WithSSLPort(false))
	case parley.TLSOpportunistic:
		opts = append(opts, gomail.WithTLSPortPolicy(gomail.TLSOpportunistic))
	case parley.TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if sender.Port != 0 {
		// WithSSLPort and WithTLSPortPolicy pick a default port; a
		// configured one wins, so it is set again last.
		opts = append(opts, gomail.WithPort(sender.Port))
	}
	if sender.Username != "" {
		// Over TLS the strongest mechanism the server offers is chosen.
		// Without TLS (a relay on the same machine) only PLAIN is left, and
		// go-mail sends it to localhost only, never in clear over a network.
		auth := gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover)
		switch sender.TLS {
		case parley.TLSNone:
			auth = gomail.WithSMTPAuth(gomail.SMTPAuthPlain)
		case parley.TLSImplicit:
			// The guarded dialer does this TLS, so go-mail does not count
			// the connection as encrypted: the same choice, made explicit.
			auth = gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthSCRAMSHA256PLUS, gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1PLUS,
				gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthNTLM, gomail.SMTPAuthCramMD5, gomail.SMTPAuthPlain, gomail.SMTPAuthLogin)
		}
		opts = append(opts, auth, gomail.WithUsername(sender.Username), gomail.WithPassword(sender.Password))
	}
	client, err := gomail.NewClient(sender.Host, opts...)
	if err != nil {
		return fmt.Errorf("%w: smtp configuration: %v", ErrMailRejected, err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return s.failure(ctx, client.ServerAddr(), err)
	}
	return nil
}

// dial connects through the guard, which checks each address DNS gave
// before connecting; implicit TLS is done here, as go-mail leaves it to a
// custom dialer.
func (s SMTPMailer) dial(sender parley.EmailSender, timeout time.Duration) gomail.DialContextFunc {
	guard := s.Guard
	if guard == nil {
		guard = netguard.New(nil, netguard.SMTPPorts)
	}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		d := guard.Dialer(timeout)
		if sender.TLS == parley.TLSImplicit {
			td := &tls.Dialer{NetDialer: d, Config: &tls.Config{ServerName: sender.Host, MinVersion: tls.VersionTLS12, RootCAs: s.RootCAs}}
			return td.DialContext(ctx, network, address)
		}
		return d.DialContext(ctx, network, address)
	}
}

// failure turns a failed send into what a tenant may see: what Parley
// refused, or that the server refused, never the server's own words (a
// tenant could point the host at an internal service and read its banner
// back). The full error goes to the log.
func (s SMTPMailer) failure(ctx context.Context, server string, err error) error {
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var refused *netguard.RefusedError
	if errors.As(err, &refused) {
		log.WarnContext(ctx, "smtp connection refused by the outbound guard", "smtp_server", server, "address", refused.Addr.String(), "reason", refused.Reason)
		return fmt.Errorf("%w: connection to smtp server %s refused by Parley: %s (an operator may allow it with PARLEY_OUTBOUND_ALLOW)",
			ErrMailRejected, server, refused.Reason)
	}
	log.WarnContext(ctx, "smtp send failed", "smtp_server", server, "err", err)
	var se *gomail.SendError
	if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
		return &hiddenError{msg: fmt.Sprintf("%s: smtp server %s refused the message for good (%s); its answer is in Parley's log",
			ErrMailRejected, server, se.Reason), err: err, rejected: true}
	}
	return &hiddenError{msg: "smtp send to " + server + " failed (will retry); the server's answer is in Parley's log", err: err}
}

// hiddenError shows its own message but keeps the cause for errors.Is
// (deadlines, cancellations), so a server's reply never reaches Error().
type hiddenError struct {
	msg      string
	err      error
	rejected bool
}

func (e *hiddenError) Error() string { return e.msg }
func (e *hiddenError) Unwrap() []error {
	if e.rejected {
		return []error{ErrMailRejected, e.err}
	}
	return []error{e.err}
}

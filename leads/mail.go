package leads

import (
	"context"
	"errors"
	"fmt"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/parleyhq/parley"
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
	opts := []gomail.Option{gomail.WithTimeout(timeout)}
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
		auth := gomail.SMTPAuthAutoDiscover
		if sender.TLS == parley.TLSNone {
			auth = gomail.SMTPAuthPlain
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(sender.Username), gomail.WithPassword(sender.Password))
	}
	client, err := gomail.NewClient(sender.Host, opts...)
	if err != nil {
		return fmt.Errorf("%w: smtp configuration: %v", ErrMailRejected, err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		var se *gomail.SendError
		if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
			return fmt.Errorf("%w: %v", ErrMailRejected, err)
		}
		return fmt.Errorf("smtp send: %w", err)
	}
	return nil
}

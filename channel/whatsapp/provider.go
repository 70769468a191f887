package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/meta"
)

// Name is the provider's name in metrics and logs.
const Name = "whatsapp"

// Provider is the WhatsApp Cloud API as a channel.Provider: it receives
// Meta's webhooks (signed with the app secret) and sends through Client.
type Provider struct {
	Client      *Client
	AppSecret   string // signs Cloud API webhooks (X-Hub-Signature-256)
	VerifyToken string // the subscription handshake's hub.verify_token
	Log         *slog.Logger
}

var _ channel.Provider = (*Provider)(nil)

// receiver is package meta's webhook plumbing with this provider's secrets.
func (p *Provider) receiver() meta.Receiver {
	return meta.Receiver{Name: Name, Title: "WhatsApp", RouteKey: "phone_number_id",
		AppSecret: p.AppSecret, VerifyToken: p.VerifyToken, Log: p.log()}
}

func (p *Provider) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}

// Mount adds GET (the handshake) and POST (notifications) /webhooks/whatsapp.
func (p *Provider) Mount(m channel.Mux, in channel.Intake) {
	if p.AppSecret == "" {
		p.log().Warn("PARLEY_WHATSAPP_APP_SECRET is not set: every WhatsApp webhook will be refused (401)")
	}
	p.receiver().Mount(m, in, p.parser(in))
}

// Send sends msg through the Cloud API with the channel's token and number.
func (p *Provider) Send(ctx context.Context, ch parley.Channel, conv parley.Conversation, msg parley.Message) (string, error) {
	out, err := outboundOf(conv.ContactPhone, msg)
	if err != nil {
		return "", err
	}
	return p.Client.Send(ctx, ch.AccessToken, ch.PhoneNumberID, out)
}

// Classify reads a *SendError.
func (*Provider) Classify(err error) (channel.Failure, bool) {
	var we *SendError
	if !errors.As(err, &we) {
		return channel.Failure{}, false
	}
	code := fmt.Sprint(we.Code)
	if we.Code == 0 {
		code = fmt.Sprintf("http_%d", we.HTTPStatus)
	}
	reason := we.Message
	if we.Details != "" {
		reason += " (" + we.Details + ")"
	}
	return channel.Failure{Code: code, Reason: reason, Retryable: we.Retryable, Wait: we.RetryAfter}, true
}

// outboundOf turns a stored message into the Cloud API's send: a template
// when it has one, reply buttons or a list when it carries an Interactive,
// text otherwise.
func outboundOf(to string, m parley.Message) (Outbound, error) {
	out := Outbound{To: to, CallbackData: m.ID}
	out.ReplyTo, _ = m.Extra[channel.ExtraReplyTo].(string)
	if m.Template != nil {
		out.Template = m.Template
		list, _ := m.Extra[channel.ExtraTemplateButtonPayloads].([]any)
		for _, v := range list {
			if s, ok := v.(string); ok {
				out.TemplateButtonPayloads = append(out.TemplateButtonPayloads, s)
			}
		}
		return out, nil
	}
	in, err := channel.InteractiveOf(m)
	if err != nil {
		return out, err
	}
	switch {
	case in == nil:
		out.Text = m.Content
	case len(in.Buttons) > 0:
		b := &Buttons{Header: in.Header, Body: m.Content, Footer: in.Footer}
		for _, c := range in.Buttons {
			b.Choices = append(b.Choices, Choice{ID: c.ID, Title: c.Title})
		}
		out.Buttons = b
	default:
		l := &List{Header: in.Header, Body: m.Content, Footer: in.Footer, Button: in.ListButton}
		for _, s := range in.Sections {
			sec := Section{Title: s.Title}
			for _, r := range s.Rows {
				sec.Rows = append(sec.Rows, Choice{ID: r.ID, Title: r.Title, Description: r.Description})
			}
			l.Sections = append(l.Sections, sec)
		}
		out.List = l
	}
	return out, nil
}

package twilio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
)

// Name is the provider's name in metrics and logs.
const Name = "twilio"

// Channels looks a Twilio channel up by id (a *store.Store does).
type Channels interface {
	ChannelByID(ctx context.Context, id string) (parley.Channel, error)
}

// Provider is Twilio's WhatsApp sender as a channel.Provider: it receives
// the inbound and status webhooks of each Twilio channel (signed with the
// channel's auth token) and sends through Client.
type Provider struct {
	Client   *Client
	Channels Channels
	// PublicURL is this server's public base URL (PARLEY_PUBLIC_URL): Twilio
	// signs the full URL it called, and statuses are asked for only when it
	// is set. Empty: the signed URL is rebuilt from the request.
	PublicURL string
	Log       *slog.Logger
}

var (
	_ channel.Provider       = (*Provider)(nil)
	_ channel.StatusReporter = (*Provider)(nil)
)

func (p *Provider) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}

// Mount adds POST /webhooks/twilio/{channel_id}.
func (p *Provider) Mount(m channel.Mux, in channel.Intake) {
	m.Handle("POST /webhooks/twilio/{channel_id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.serve(in, w, r) }))
}

// ReportsStatuses: Twilio posts statuses only to the callback URL a send
// gave, which needs the public URL.
func (p *Provider) ReportsStatuses(parley.Channel) bool { return p.PublicURL != "" }

// Send sends through Twilio's Messages API with the channel's
// account (settings account_sid and auth_token), from its
// messaging_service_sid setting or else its display number.
//
// Templates on a Twilio channel are Content API templates: Template.Name
// holds the ContentSid (HX…) and Parameters fill the variables "1", "2"…;
// Template.Language is not sent (a ContentSid is one language already).
// Reply buttons and lists need pre-approved Content templates on Twilio, so
// an Interactive message goes as text with numbered choices.
func (p *Provider) Send(ctx context.Context, ch parley.Channel, conv parley.Conversation, msg parley.Message) (string, error) {
	if p.Client == nil {
		return "", parley.Errorf(parley.CodeValidation, "twilio sending is not configured")
	}
	var out Outbound
	if p.PublicURL != "" {
		// The message id rides in the callback URL (Twilio signs it too),
		// so a status that overtakes our commit still finds its message.
		out.StatusCallback = p.PublicURL + "/webhooks/twilio/" + url.PathEscape(ch.ID) + "?message_id=" + url.QueryEscape(msg.ID)
	}
	switch {
	case msg.Template != nil:
		if !strings.HasPrefix(msg.Template.Name, "HX") {
			return "", parley.FieldError("template.name", "on a twilio channel a template is its Content SID (HX…), got %q", msg.Template.Name)
		}
		out.ContentSID = msg.Template.Name
		if len(msg.Template.Parameters) > 0 {
			out.ContentVariables = map[string]string{}
			for i, p := range msg.Template.Parameters {
				out.ContentVariables[strconv.Itoa(i+1)] = p
			}
		}
	default:
		in, err := channel.InteractiveOf(msg)
		if err != nil {
			return "", err
		}
		out.Body = msg.Content
		if in != nil {
			out.Body = channel.PlainText(msg, in)
		}
	}
	from := ch.Settings["messaging_service_sid"]
	if from == "" {
		from = ch.DisplayNumber
	}
	return p.Client.Send(ctx, ch.Settings["account_sid"], ch.Settings["auth_token"], from, conv.ContactPhone, out)
}

// Classify reads a *SendError.
func (*Provider) Classify(err error) (channel.Failure, bool) {
	var te *SendError
	if !errors.As(err, &te) {
		return channel.Failure{}, false
	}
	code := strconv.Itoa(te.Code)
	switch {
	case te.Code != 0:
	case te.HTTPStatus != 0:
		code = fmt.Sprintf("http_%d", te.HTTPStatus)
	case te.Retryable:
		code = "network"
	default:
		code = channel.CodeInvalidMessage // refused before any HTTP call
	}
	return channel.Failure{Code: code, Reason: te.Message, Retryable: te.Retryable, Wait: te.RetryAfter}, true
}

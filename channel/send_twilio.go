package channel

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/twilio"
)

// TwilioClient is what the sender needs of twilio.Client.
type TwilioClient interface {
	Send(ctx context.Context, accountSID, authToken, from, to string, m twilio.Outbound) (string, error)
}

// twilioProvider is Twilio's Messages API over Sender.Twilio.
type twilioProvider struct{ s *Sender }

// Send sends through Twilio's Messages API with the channel's
// account (settings account_sid and auth_token), from its
// messaging_service_sid setting or else its display number.
//
// Templates on a Twilio channel are Content API templates: Template.Name
// holds the ContentSid (HX…) and Parameters fill the variables "1", "2"…;
// Template.Language is not sent (a ContentSid is one language already).
// Reply buttons and lists need pre-approved Content templates on Twilio, so
// an Interactive message goes as text with numbered choices.
func (p twilioProvider) Send(ctx context.Context, ch parley.Channel, conv parley.Conversation, msg parley.Message) (string, error) {
	s := p.s
	if s.Twilio == nil {
		return "", parley.Errorf(parley.CodeValidation, "twilio sending is not configured")
	}
	var out twilio.Outbound
	if s.PublicURL != "" {
		// The message id rides in the callback URL (Twilio signs it too),
		// so a status that overtakes our commit still finds its message.
		out.StatusCallback = s.PublicURL + "/webhooks/twilio/" + url.PathEscape(ch.ID) + "?message_id=" + url.QueryEscape(msg.ID)
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
		in, err := InteractiveOf(msg)
		if err != nil {
			return "", err
		}
		out.Body = msg.Content
		if in != nil {
			out.Body = plainText(msg, in)
		}
	}
	from := ch.Settings["messaging_service_sid"]
	if from == "" {
		from = ch.DisplayNumber
	}
	return s.Twilio.Send(ctx, ch.Settings["account_sid"], ch.Settings["auth_token"], from, conv.ContactPhone, out)
}

// Classify reads a *twilio.SendError.
func (twilioProvider) Classify(err error) (Failure, bool) {
	var te *twilio.SendError
	if !errors.As(err, &te) {
		return Failure{}, false
	}
	code := strconv.Itoa(te.Code)
	switch {
	case te.Code != 0:
	case te.HTTPStatus != 0:
		code = fmt.Sprintf("http_%d", te.HTTPStatus)
	case te.Retryable:
		code = "network"
	default:
		code = CodeInvalidMessage // refused before any HTTP call
	}
	return Failure{Code: code, Reason: te.Message, Retryable: te.Retryable, Wait: te.RetryAfter}, true
}

package twiliotest

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/channel/twilio"
)

// InboundText returns the form Twilio posts when a contact sends text
// (§1), with a fresh MessageSid. from and to are E.164 numbers.
func InboundText(accountSID, from, to, profileName, body string) url.Values {
	sid := NewSID("SM")
	return url.Values{
		"MessageSid":    {sid},
		"SmsMessageSid": {sid}, // Twilio repeats the SID under legacy names
		"SmsSid":        {sid},
		"AccountSid":    {accountSID},
		"From":          {"whatsapp:" + from},
		"To":            {"whatsapp:" + to},
		"Body":          {body},
		"NumMedia":      {"0"},
		"NumSegments":   {"1"},
		"ProfileName":   {profileName},
		"WaId":          {strings.TrimPrefix(from, "+")},
		"MessageType":   {"text"},
		"SmsStatus":     {"received"},
		"ApiVersion":    {"2010-04-01"},
	}
}

// StatusCallback returns the form Twilio posts when messageSID moves to
// status (§3); errorCode 0 leaves ErrorCode out. from is our sender and to
// the contact, as E.164.
func StatusCallback(accountSID, messageSID, status string, errorCode int, from, to string) url.Values {
	f := url.Values{
		"MessageSid":    {messageSID},
		"SmsSid":        {messageSID},
		"MessageStatus": {status},
		"SmsStatus":     {status},
		"AccountSid":    {accountSID},
		"From":          {"whatsapp:" + from},
		"To":            {"whatsapp:" + to},
		"ChannelPrefix": {"whatsapp"},
		"ApiVersion":    {"2010-04-01"},
	}
	if errorCode != 0 {
		f.Set("ErrorCode", strconv.Itoa(errorCode))
	}
	return f
}

// NewWebhookRequest builds the POST Twilio would make to fullURL with form,
// signed with authToken. fullURL is the public URL the signature covers;
// the request goes to the same address, so point it at the server under
// test (or rewrite req.URL and keep the header).
func NewWebhookRequest(ctx context.Context, authToken, fullURL string, form url.Values) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fullURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set(twilio.SignatureHeader, twilio.Sign(authToken, fullURL, form))
	return req, nil
}

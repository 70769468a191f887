package twilio_test

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/twilio"
)

// fixture reads testdata/<name>.form: one encoded pair per line, # comments.
func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".form"))
	if err != nil {
		t.Fatal(err)
	}
	var pairs []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			pairs = append(pairs, line)
		}
	}
	return strings.Join(pairs, "&")
}

func fixtureForm(t testing.TB, name string) url.Values {
	t.Helper()
	form, err := url.ParseQuery(fixture(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return form
}

const (
	acct     = "AC0123456789abcdef0123456789abcdef"
	inSID    = "SM0123456789abcdef0123456789abcdef"
	mediaSID = "MM0123456789abcdef0123456789abcdef"
	ourSID   = "SM89abcdef0123456789abcdef01234567"
	mediaURL = "https://api.twilio.com/2010-04-01/Accounts/" + acct + "/Messages/" + mediaSID +
		"/Media/ME0123456789abcdef0123456789abcdef"
)

// inbound is the fixtures' common message, changed by each case.
func inbound(sid string, typ parley.MessageType, content string, extra map[string]any) *twilio.Inbound {
	x := map[string]any{"wa_id": "5511999990000"}
	for k, v := range extra {
		x[k] = v
	}
	return &twilio.Inbound{
		AccountSID: acct, To: "+15550001111", From: "+5511999990000", ProfileName: "Ana Lima",
		MessageID: sid, Type: typ, Content: content, Extra: x,
	}
}

func media(ct string) map[string]any {
	return map[string]any{"num_media": 1, "media": []any{map[string]any{"url": mediaURL, "content_type": ct}}}
}

func merge(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestParseInboundFixtures(t *testing.T) {
	button := inbound(inSID, parley.MessageButton, "Yes", map[string]any{
		"twilio_message_type": "button", "button_payload": "confirm_yes", "button_text": "Yes",
		"reply_to_sender": "whatsapp:+15550001111",
	})
	button.ReplyToID = ourSID
	reply := inbound(inSID, parley.MessageText, "Yes, tomorrow works", map[string]any{
		"twilio_message_type": "text", "reply_to_sender": "whatsapp:+15550001111",
		"messaging_service_sid": "MG0123456789abcdef0123456789abcdef",
	})
	reply.ReplyToID = ourSID

	tests := []struct {
		fixture string
		want    *twilio.Inbound
	}{
		{"inbound_text", inbound(inSID, parley.MessageText, "Is my order ready?",
			map[string]any{"twilio_message_type": "text"})},
		{"inbound_text_reply", reply},
		{"inbound_text_forwarded", inbound(inSID, parley.MessageText, "Olá! Promoção & frete grátis 100% 🎉",
			map[string]any{"twilio_message_type": "text", "forwarded": true, "frequently_forwarded": true})},
		{"inbound_image", inbound(mediaSID, parley.MessageImage, "This is the damaged box",
			merge(media("image/jpeg"), map[string]any{"twilio_message_type": "image"}))},
		{"inbound_audio", inbound(mediaSID, parley.MessageAudio, "",
			merge(media("audio/ogg"), map[string]any{"twilio_message_type": "audio"}))},
		{"inbound_video", inbound(mediaSID, parley.MessageVideo, "",
			merge(media("video/mp4"), map[string]any{"twilio_message_type": "video"}))},
		{"inbound_document", inbound(mediaSID, parley.MessageDocument, "invoice.pdf",
			merge(media("application/pdf"), map[string]any{"twilio_message_type": "document"}))},
		{"inbound_sticker", inbound(mediaSID, parley.MessageSticker, "",
			merge(media("image/webp"), map[string]any{"twilio_message_type": "sticker"}))},
		{"inbound_untyped_media", inbound(mediaSID, parley.MessageImage, "", media("image/png"))},
		{"inbound_location", inbound(inSID, parley.MessageLocation, "Loja Centro, Rua Augusta, 1500, São Paulo",
			map[string]any{"twilio_message_type": "location", "latitude": -23.5505, "longitude": -46.6333,
				"address": "Rua Augusta, 1500, São Paulo", "label": "Loja Centro"})},
		{"inbound_button", button},
		{"inbound_interactive", inbound(inSID, parley.MessageInteractive, "10:00", map[string]any{
			"twilio_message_type": "interactive", "button_payload": "slot_10am", "button_text": "10:00",
			"raw": rawOf(t, "inbound_interactive")})},
		{"inbound_referral", inbound(inSID, parley.MessageText, "Hi! I saw your ad", map[string]any{
			"twilio_message_type": "text",
			"referral": map[string]any{
				"ReferralCtwaClid":   "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-GABDLOPaOdRMv-_zfUQ2a",
				"ReferralSourceId":   "120210000000000000",
				"ReferralSourceType": "ad",
				"ReferralSourceUrl":  "https://fb.me/3cr4Wqqkv",
				"ReferralHeadline":   "Free shipping this week",
				"ReferralBody":       "Tap to chat with us",
				"ReferralNumMedia":   "0",
			}})},
		{"inbound_unknown", inbound(inSID, parley.MessageUnknown, "", map[string]any{
			"twilio_message_type": "reaction", "raw": rawOf(t, "inbound_unknown")})},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			ev, err := twilio.Parse(fixtureForm(t, tt.fixture))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if ev.Kind != twilio.KindInbound || ev.Status != nil || ev.Inbound == nil {
				t.Fatalf("got kind %q, inbound %v, status %v; want only an inbound message", ev.Kind, ev.Inbound, ev.Status)
			}
			if !reflect.DeepEqual(ev.Inbound, tt.want) {
				t.Errorf("Inbound =\n%#v\nwant\n%#v", ev.Inbound, tt.want)
			}
		})
	}
}

// rawOf is what a fixture's whole form looks like in Extra["raw"].
func rawOf(t *testing.T, name string) map[string]any {
	out := map[string]any{}
	for k, v := range fixtureForm(t, name) {
		out[k] = v[0]
	}
	return out
}

func TestParseStatusFixtures(t *testing.T) {
	tests := []struct {
		fixture   string
		status    parley.DeliveryStatus
		code, msg string
	}{
		{"status_queued", parley.StatusQueued, "", ""},
		{"status_sending", parley.StatusSent, "", ""},
		{"status_sent", parley.StatusSent, "", ""},
		{"status_delivered", parley.StatusDelivered, "", ""},
		{"status_read", parley.StatusRead, "", ""},
		{"status_failed", parley.StatusFailed, "63024", "invalid message recipient"},
		{"status_undelivered", parley.StatusFailed, "63016", "outside the 24-hour window: only a template may be sent"},
		{"status_canceled", parley.StatusFailed, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			ev, err := twilio.Parse(fixtureForm(t, tt.fixture))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if ev.Kind != twilio.KindStatus || ev.Inbound != nil || ev.Status == nil {
				t.Fatalf("got kind %q, inbound %v, status %v; want only a status", ev.Kind, ev.Inbound, ev.Status)
			}
			want := &twilio.StatusUpdate{
				AccountSID: acct, MessageID: ourSID, Status: tt.status,
				TwilioStatus: strings.TrimPrefix(tt.fixture, "status_"), ErrorCode: tt.code, ErrorMessage: tt.msg,
			}
			if *ev.Status != *want {
				t.Errorf("Status = %+v, want %+v", *ev.Status, *want)
			}
		})
	}
}

func TestParseRefusesFixtures(t *testing.T) {
	tests := []struct {
		fixture, field string
		sentinel       error
	}{
		{"invalid_missing_message_sid", "MessageSid", twilio.ErrMissingField},
		{"invalid_missing_from", "From", twilio.ErrMissingField},
		{"invalid_missing_account", "AccountSid", twilio.ErrMissingField},
		{"invalid_sms_from", "From", twilio.ErrInvalidField},
		{"invalid_from_number", "From", twilio.ErrInvalidField},
		{"invalid_media_without_url", "MediaUrl0", twilio.ErrMissingField},
		{"invalid_num_media", "NumMedia", twilio.ErrInvalidField},
		{"invalid_latitude", "Latitude", twilio.ErrInvalidField},
		{"invalid_text_without_body", "Body", twilio.ErrMissingField},
		{"invalid_status", "MessageStatus", twilio.ErrInvalidField},
		{"invalid_status_message_sid", "MessageSid", twilio.ErrInvalidField},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			checkRefused(t, fixtureForm(t, tt.fixture), tt.field, tt.sentinel)
		})
	}
}

func checkRefused(t *testing.T, form url.Values, field string, sentinel error) {
	t.Helper()
	ev, err := twilio.Parse(form)
	if ev != nil {
		t.Fatalf("Parse returned an event %+v with error %v", ev, err)
	}
	var pe *twilio.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %T %v is not a *ParseError", err, err)
	}
	if pe.Field != field || !errors.Is(err, sentinel) {
		t.Errorf("error %v: field %q, want %q wrapping %v", err, pe.Field, field, sentinel)
	}
	if code := parley.ErrorCode(err); code != parley.CodeInvalid {
		t.Errorf("parley.ErrorCode = %q, want %q", code, parley.CodeInvalid)
	}
}

// edit returns a fixture's form with fields set (a nil value deletes).
func edit(t *testing.T, name string, set map[string][]string) url.Values {
	f := fixtureForm(t, name)
	for k, v := range set {
		if v == nil {
			f.Del(k)
		} else {
			f[k] = v
		}
	}
	return f
}

func TestParseEdgeCases(t *testing.T) {
	t.Run("two media are both kept, in order", func(t *testing.T) {
		f := edit(t, "inbound_image", map[string][]string{"NumMedia": {"2"},
			"MediaUrl1": {"https://api.twilio.com/m/2"}, "MediaContentType1": {"image/png"}})
		ev, err := twilio.Parse(f)
		if err != nil {
			t.Fatal(err)
		}
		got := ev.Inbound.Extra[twilio.ExtraMedia].([]any)
		if len(got) != 2 || ev.Inbound.Extra[twilio.ExtraNumMedia] != 2 ||
			got[1].(map[string]any)["url"] != "https://api.twilio.com/m/2" {
			t.Fatalf("media = %v", got)
		}
	})
	t.Run("legacy SmsMessageSid stands in for MessageSid", func(t *testing.T) {
		ev, err := twilio.Parse(edit(t, "inbound_text", map[string][]string{"MessageSid": nil}))
		if err != nil || ev.Inbound.MessageID != inSID {
			t.Fatalf("got %+v, %v", ev, err)
		}
	})
	t.Run("Mexican WhatsApp number is keyed without the old 1", func(t *testing.T) {
		ev, err := twilio.Parse(edit(t, "inbound_text", map[string][]string{"From": {"whatsapp:+5215512345678"}}))
		if err != nil || ev.Inbound.From != "+525512345678" {
			t.Fatalf("got %+v, %v", ev, err)
		}
	})
	t.Run("button inferred without MessageType", func(t *testing.T) {
		ev, err := twilio.Parse(edit(t, "inbound_button", map[string][]string{"MessageType": nil}))
		if err != nil || ev.Inbound.Type != parley.MessageButton || ev.Inbound.Content != "Yes" {
			t.Fatalf("got %+v, %v", ev, err)
		}
	})
	t.Run("location with coordinates only reads as coordinates", func(t *testing.T) {
		ev, err := twilio.Parse(edit(t, "inbound_location", map[string][]string{"Address": nil, "Label": nil}))
		if err != nil || ev.Inbound.Content != "-23.5505,-46.6333" {
			t.Fatalf("got %+v, %v", ev, err)
		}
	})
	t.Run("invalid UTF-8 and NUL are cleaned, not stored", func(t *testing.T) {
		ev, err := twilio.Parse(edit(t, "inbound_text", map[string][]string{"Body": {"ok\x00\xff"}}))
		if err != nil || ev.Inbound.Content != "ok\uFFFD" {
			t.Fatalf("got %+v, %v", ev, err)
		}
	})
	t.Run("SmsStatus alone still marks a status callback", func(t *testing.T) {
		ev, err := twilio.Parse(edit(t, "status_delivered", map[string][]string{"MessageStatus": nil}))
		if err != nil || ev.Kind != twilio.KindStatus || ev.Status.Status != parley.StatusDelivered {
			t.Fatalf("got %+v, %v", ev, err)
		}
	})
	t.Run("Twilio's own error message wins over ours", func(t *testing.T) {
		ev, err := twilio.Parse(edit(t, "status_undelivered", map[string][]string{"ErrorMessage": {"Twilio says"}}))
		if err != nil || ev.Status.ErrorMessage != "Twilio says" {
			t.Fatalf("got %+v, %v", ev, err)
		}
	})

	refusals := []struct {
		name, fixture string
		set           map[string][]string
		field         string
		sentinel      error
	}{
		{"conflicting MessageSid", "inbound_text", map[string][]string{"MessageSid": {inSID, ourSID}}, "MessageSid", twilio.ErrInvalidField},
		{"MessageSid not a SID", "inbound_text", map[string][]string{"MessageSid": {"SM<script>"}}, "MessageSid", twilio.ErrInvalidField},
		{"AccountSid of another kind", "inbound_text", map[string][]string{"AccountSid": {inSID}}, "AccountSid", twilio.ErrInvalidField},
		{"To missing", "inbound_text", map[string][]string{"To": nil}, "To", twilio.ErrMissingField},
		{"too many media", "inbound_image", map[string][]string{"NumMedia": {"11"}}, "NumMedia", twilio.ErrInvalidField},
		{"negative media", "inbound_image", map[string][]string{"NumMedia": {"-1"}}, "NumMedia", twilio.ErrInvalidField},
		{"media URL not a URL", "inbound_image", map[string][]string{"MediaUrl0": {"javascript:alert(1)"}}, "MediaUrl0", twilio.ErrInvalidField},
		{"media without content type", "inbound_image", map[string][]string{"MediaContentType0": nil}, "MediaContentType0", twilio.ErrMissingField},
		{"image without media", "inbound_image", map[string][]string{"NumMedia": {"0"}}, "MediaUrl0", twilio.ErrMissingField},
		{"latitude without longitude", "inbound_location", map[string][]string{"Longitude": nil}, "Longitude", twilio.ErrMissingField},
		{"longitude NaN", "inbound_location", map[string][]string{"Longitude": {"NaN"}}, "Longitude", twilio.ErrInvalidField},
		{"location without place", "inbound_location", map[string][]string{"Latitude": nil, "Longitude": nil}, "Latitude", twilio.ErrMissingField},
		{"button with nothing tapped", "inbound_button", map[string][]string{"ButtonText": nil, "ButtonPayload": nil, "Body": nil}, "ButtonPayload", twilio.ErrMissingField},
		{"reply to a non-SID", "inbound_text_reply", map[string][]string{"OriginalRepliedMessageSid": {"x"}}, "OriginalRepliedMessageSid", twilio.ErrInvalidField},
		{"status without MessageSid", "status_sent", map[string][]string{"MessageSid": nil, "SmsSid": nil}, "MessageSid", twilio.ErrMissingField},
		{"status error code not a number", "status_failed", map[string][]string{"ErrorCode": {"oops"}}, "ErrorCode", twilio.ErrInvalidField},
		{"empty form", "", nil, "MessageSid", twilio.ErrMissingField},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			f := url.Values{}
			if tt.fixture != "" {
				f = edit(t, tt.fixture, tt.set)
			}
			checkRefused(t, f, tt.field, tt.sentinel)
		})
	}
}

func TestParseErrorDoesNotQuoteValues(t *testing.T) {
	_, err := twilio.Parse(edit(t, "inbound_text", map[string][]string{"From": {"whatsapp:+1123"}}))
	if err == nil || strings.Contains(err.Error(), "1123") {
		t.Fatalf("error %v quotes the number", err)
	}
}

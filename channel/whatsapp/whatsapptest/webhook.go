package whatsapptest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/parleyhq/parley/channel/meta/metatest"
)

// Defaults the payload builders use for fields left empty.
const (
	DefaultWABAID        = "102000000000001"
	DefaultDisplayNumber = "15550001111"
)

// Sign returns the X-Hub-Signature-256 header Meta would send for body
// under appSecret (Cloud API §2): metatest's.
func Sign(appSecret string, body []byte) string { return metatest.Sign(appSecret, body) }

// Inbound describes a user message for the payload builders.
type Inbound struct {
	PhoneNumberID string // our number, the routing key (required)
	DisplayNumber string // default DefaultDisplayNumber
	WABAID        string // default DefaultWABAID
	From          string // the user's digits, no "+"
	Name          string // profile name
	ID            string // wamid; a random one when empty
	Time          time.Time
	ReplyTo       string // context.id: the wamid replied to or whose button was tapped
}

// TextWebhook builds the webhook body of a text message (Cloud API §2.1).
func TextWebhook(in Inbound, text string) []byte {
	msg := in.message("text")
	msg["text"] = map[string]any{"body": text}
	return in.envelope(msg)
}

// ButtonReplyWebhook builds the webhook body of a tap on one of our reply
// buttons (Cloud API §2.1, interactive button_reply).
func ButtonReplyWebhook(in Inbound, buttonID, title string) []byte {
	msg := in.message("interactive")
	msg["interactive"] = map[string]any{
		"type":         "button_reply",
		"button_reply": map[string]any{"id": buttonID, "title": title},
	}
	return in.envelope(msg)
}

func (in Inbound) message(typ string) map[string]any {
	if in.ID == "" {
		in.ID = randomWamid()
	}
	msg := map[string]any{
		"from":      in.From,
		"id":        in.ID,
		"timestamp": unix(in.Time),
		"type":      typ,
	}
	if in.ReplyTo != "" {
		msg["context"] = map[string]any{"from": in.display(), "id": in.ReplyTo}
	}
	return msg
}

func (in Inbound) display() string {
	if in.DisplayNumber == "" {
		return DefaultDisplayNumber
	}
	return in.DisplayNumber
}

func (in Inbound) envelope(msg map[string]any) []byte {
	return envelope(in.WABAID, in.display(), in.PhoneNumberID, map[string]any{
		"contacts": []any{map[string]any{"profile": map[string]any{"name": in.Name}, "wa_id": in.From}},
		"messages": []any{msg},
	})
}

// StatusEvent describes a delivery receipt for StatusWebhook.
type StatusEvent struct {
	PhoneNumberID string // required
	DisplayNumber string
	WABAID        string
	MessageID     string // our wamid
	Status        string // sent, delivered, read, failed
	RecipientID   string
	Time          time.Time
	ErrorCode     int // for failed: e.g. 131047
	ErrorTitle    string
	ErrorDetail   string
	CallbackData  string // biz_opaque_callback_data: echoed from the send
}

// StatusWebhook builds the webhook body of a status (Cloud API §2.2).
func StatusWebhook(s StatusEvent) []byte {
	st := map[string]any{
		"id":           s.MessageID,
		"status":       s.Status,
		"timestamp":    unix(s.Time),
		"recipient_id": s.RecipientID,
	}
	if s.CallbackData != "" {
		st["biz_opaque_callback_data"] = s.CallbackData
	}
	if s.ErrorCode != 0 {
		st["errors"] = []any{map[string]any{
			"code":       s.ErrorCode,
			"title":      s.ErrorTitle,
			"message":    s.ErrorTitle,
			"error_data": map[string]any{"details": s.ErrorDetail},
		}}
	}
	display := s.DisplayNumber
	if display == "" {
		display = DefaultDisplayNumber
	}
	return envelope(s.WABAID, display, s.PhoneNumberID, map[string]any{"statuses": []any{st}})
}

func envelope(wabaID, display, phoneNumberID string, items map[string]any) []byte {
	if wabaID == "" {
		wabaID = DefaultWABAID
	}
	value := map[string]any{
		"messaging_product": "whatsapp",
		"metadata":          map[string]any{"display_phone_number": display, "phone_number_id": phoneNumberID},
	}
	for k, v := range items {
		value[k] = v
	}
	// Plain maps of strings cannot fail to marshal.
	b, _ := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry": []any{map[string]any{
			"id":      wabaID,
			"changes": []any{map[string]any{"field": "messages", "value": value}},
		}},
	})
	return b
}

// unix renders t as Meta does: Unix seconds in a string. The zero time
// becomes the spec's example instant.
func unix(t time.Time) string {
	if t.IsZero() {
		return "1760000000"
	}
	return strconv.FormatInt(t.Unix(), 10)
}

func randomWamid() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "wamid.HBgN" + hex.EncodeToString(b[:])
}

// Post delivers a webhook body to a Parley at baseURL as Meta would,
// signed with appSecret, and returns the status it answered.
func Post(baseURL, appSecret string, body []byte) (int, error) {
	status, _, err := metatest.Deliver(context.Background(), baseURL+"/webhooks/whatsapp", appSecret, body)
	return status, err
}

// MustPost is Post for tests: anything but 200 fails t.
func MustPost(t testing.TB, baseURL, appSecret string, body []byte) {
	t.Helper()
	status, err := Post(baseURL, appSecret, body)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK {
		t.Fatalf("webhook = %d, want 200", status)
	}
}

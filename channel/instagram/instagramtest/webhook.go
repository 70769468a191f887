package instagramtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/parleyhq/parley/channel/meta/metatest"
)

// Sign returns the X-Hub-Signature-256 header Meta sends for body (§1):
// the same as WhatsApp's.
func Sign(appSecret string, body []byte) string { return metatest.Sign(appSecret, body) }

// Inbound describes a customer's message for the builders.
type Inbound struct {
	AccountID string // the business account (required)
	From      string // the customer's IGSID (required)
	MID       string // a random one when empty
	Time      time.Time
}

func (in Inbound) mid() string {
	if in.MID != "" {
		return in.MID
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "aWdfZAG1faXRlbTo" + hex.EncodeToString(b[:])
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 1733300000000
	}
	return t.UnixMilli()
}

// TextWebhook builds the body of a text message (§2).
func TextWebhook(in Inbound, text string) []byte {
	return in.message(map[string]any{"text": text})
}

// QuickReplyWebhook builds the body of a tap on one of our quick replies (§2).
func QuickReplyWebhook(in Inbound, title, payload string) []byte {
	return in.message(map[string]any{"text": title, "quick_reply": map[string]any{"payload": payload}})
}

// AttachmentWebhook builds the body of a message with one attachment (§2).
func AttachmentWebhook(in Inbound, typ, url string) []byte {
	return in.message(map[string]any{"attachments": []any{map[string]any{"type": typ, "payload": map[string]any{"url": url}}}})
}

// EchoWebhook builds the echo of a message the business sent (§2, is_echo).
func EchoWebhook(accountID, to, mid, text string) []byte {
	return envelope(accountID, 0, map[string]any{
		"sender": map[string]any{"id": accountID}, "recipient": map[string]any{"id": to}, "timestamp": millis(time.Time{}),
		"message": map[string]any{"mid": mid, "text": text, "is_echo": true},
	})
}

// ReadWebhook builds a read receipt: from read up to mid (§2).
func ReadWebhook(accountID, from, mid string, at time.Time) []byte {
	return envelope(accountID, millis(at), map[string]any{
		"sender": map[string]any{"id": from}, "recipient": map[string]any{"id": accountID}, "timestamp": millis(at),
		"read": map[string]any{"mid": mid},
	})
}

// DeletedWebhook builds the notice that from unsent mid (§2, is_deleted).
func DeletedWebhook(accountID, from, mid string) []byte {
	return envelope(accountID, 0, map[string]any{
		"sender": map[string]any{"id": from}, "recipient": map[string]any{"id": accountID}, "timestamp": millis(time.Time{}),
		"message": map[string]any{"mid": mid, "is_deleted": true},
	})
}

func (in Inbound) message(msg map[string]any) []byte {
	msg["mid"] = in.mid()
	return envelope(in.AccountID, millis(in.Time), map[string]any{
		"sender": map[string]any{"id": in.From}, "recipient": map[string]any{"id": in.AccountID},
		"timestamp": millis(in.Time), "message": msg,
	})
}

func envelope(accountID string, at int64, item map[string]any) []byte {
	if at == 0 {
		at = millis(time.Time{})
	}
	b, _ := json.Marshal(map[string]any{ // plain maps always marshal
		"object": "instagram",
		"entry":  []any{map[string]any{"id": accountID, "time": at, "messaging": []any{item}}},
	})
	return b
}

// Deliver POSTs body to url signed with appSecret, as Meta does, and
// returns the status and answer.
func Deliver(ctx context.Context, url, appSecret string, body []byte) (int, []byte, error) {
	status, answer, err := metatest.Deliver(ctx, url, appSecret, body)
	if err != nil {
		return 0, nil, fmt.Errorf("instagramtest: deliver: %w", err)
	}
	return status, answer, nil
}

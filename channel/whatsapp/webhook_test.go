package whatsapp_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/meta/metatest"
	"github.com/parleyhq/parley/channel/whatsapp"
)

const (
	pnID    = "106000000000002"
	display = "15550001111"
	wabaID  = "102000000000001"
	ana     = "5511999990000"
)

func fixture(t testing.TB, name string) []byte {
	return metatest.Fixture(t, filepath.Join("testdata", "webhook"), name)
}

// fixtureMessage decodes messages[i] of the fixture's first change: what an
// unknown message's Extra["raw"] must hold.
func fixtureMessage(t testing.TB, name string, i int) any {
	t.Helper()
	var n struct {
		Entry []struct {
			Changes []struct {
				Value struct{ Messages []any }
			}
		}
	}
	if err := json.Unmarshal(fixture(t, name), &n); err != nil {
		t.Fatal(err)
	}
	return n.Entry[0].Changes[0].Value.Messages[i]
}

func at(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

// in is an inbound from Ana to our number, as most fixtures hold.
func in(id string, sec int64, typ parley.MessageType, content string, extra map[string]any) whatsapp.Inbound {
	return whatsapp.Inbound{
		PhoneNumberID: pnID, DisplayNumber: display, WABAID: wabaID,
		From: ana, ContactName: "Ana Lima", MessageID: id, Timestamp: at(sec),
		Type: typ, Content: content, Extra: extra,
	}
}

func withReply(m whatsapp.Inbound, replyTo string) whatsapp.Inbound {
	m.ReplyToID = replyTo
	return m
}

func status(id string, st parley.DeliveryStatus, sec int64) whatsapp.StatusUpdate {
	return whatsapp.StatusUpdate{PhoneNumberID: pnID, MessageID: id, Status: st, Timestamp: at(sec), RecipientID: ana}
}

func TestParseFixtures(t *testing.T) {
	failed := status("wamid.OUT003", parley.StatusFailed, 1760000200)
	failed.ErrorCode, failed.ErrorTitle = "131047", "Re-engagement message"
	failed.ErrorDetail = "More than 24 hours since the customer last replied."
	sent := status("wamid.OUT004", parley.StatusSent, 1760000300)
	sent.CallbackData = "msg-42"
	bruno := whatsapp.Inbound{PhoneNumberID: pnID, DisplayNumber: display, WABAID: wabaID, From: "5511988887777",
		ContactName: "Bruno Costa", MessageID: "wamid.HBgNAAD2", Timestamp: at(1760000401), Type: parley.MessageText, Content: "second"}
	carla := whatsapp.Inbound{PhoneNumberID: "106000000000008", DisplayNumber: "15550002222", WABAID: "102000000000009",
		From: "4915112345678", ContactName: "Carla", MessageID: "wamid.HBgNAAD3", Timestamp: at(1760000404), Type: parley.MessageText, Content: "hallo"}
	delivered10 := status("wamid.OUT010", parley.StatusDelivered, 1760000402)
	read11 := status("wamid.OUT011", parley.StatusRead, 1760000403)
	read11.RecipientID = "5511988887777"
	millis := in("wamid.HBgNAAE2", 0, parley.MessageText, "millis", nil)
	millis.Timestamp = time.UnixMilli(1760000000123).UTC()
	username := whatsapp.Inbound{PhoneNumberID: pnID, DisplayNumber: display, WABAID: wabaID, UserID: "BR.1234567890",
		ContactName: "ana.l", MessageID: "wamid.HBgNAAE4", Timestamp: at(1760000600), Type: parley.MessageText, Content: "hi from a username"}
	jorg := whatsapp.Inbound{PhoneNumberID: pnID, DisplayNumber: display, WABAID: wabaID, From: "4915112345678",
		ContactName: "Jörg Müller", MessageID: "wamid.HBgNAAE5", Timestamp: at(1760000700), Type: parley.MessageText, Content: "Grüße 😀"}

	tests := []struct {
		file    string
		want    whatsapp.Batch
		wantErr error
	}{
		{file: "text", want: whatsapp.Batch{Messages: []whatsapp.Inbound{
			in("wamid.HBgNAAA1", 1760000000, parley.MessageText, "Hi, is my order ready?", nil)}}},
		{file: "text_reply_forwarded", want: whatsapp.Batch{Messages: []whatsapp.Inbound{withReply(
			in("wamid.HBgNAAA9", 1760000030, parley.MessageText, "See this", map[string]any{"forwarded": true}), "wamid.OUT001")}}},
		{file: "text_escaped_unicode", want: whatsapp.Batch{Messages: []whatsapp.Inbound{jorg}}},
		{file: "interactive_button_reply", want: whatsapp.Batch{Messages: []whatsapp.Inbound{withReply(
			in("wamid.HBgNAAA2", 1760000060, parley.MessageInteractive, "Yes",
				map[string]any{"interactive_type": "button_reply", "interactive_id": "confirm_yes"}), "wamid.OUT001")}}},
		{file: "interactive_list_reply", want: whatsapp.Batch{Messages: []whatsapp.Inbound{withReply(
			in("wamid.HBgNAAA3", 1760000070, parley.MessageInteractive, "10:00",
				map[string]any{"interactive_type": "list_reply", "interactive_id": "slot_10am", "description": "Tomorrow"}), "wamid.OUT005")}}},
		{file: "interactive_nfm_reply", want: whatsapp.Batch{Messages: []whatsapp.Inbound{withReply(
			in("wamid.HBgNAAA4", 1760000080, parley.MessageInteractive, "Sent", map[string]any{"interactive_type": "nfm_reply",
				"flow_name": "flow", "flow_response_json": `{"flow_token":"t1","rating":"5"}`}), "wamid.OUT006")}}},
		{file: "button", want: whatsapp.Batch{Messages: []whatsapp.Inbound{withReply(
			in("wamid.HBgNAAA5", 1760000090, parley.MessageButton, "Unsubscribe", map[string]any{"button_payload": "STOP_PROMOS"}), "wamid.OUT002")}}},
		{file: "image", want: whatsapp.Batch{Messages: []whatsapp.Inbound{
			in("wamid.HBgNAAA6", 1760000100, parley.MessageImage, "My receipt", map[string]any{"media_id": "1234567890", "mime_type": "image/jpeg",
				"sha256": "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12", "caption": "My receipt"})}}},
		{file: "video", want: whatsapp.Batch{Messages: []whatsapp.Inbound{
			in("wamid.HBgNAAA7", 1760000110, parley.MessageVideo, "", map[string]any{"media_id": "4567890123", "mime_type": "video/mp4", "sha256": "0f0f"})}}},
		{file: "sticker", want: whatsapp.Batch{Messages: []whatsapp.Inbound{
			in("wamid.HBgNAAA8", 1760000120, parley.MessageSticker, "", map[string]any{"media_id": "5678901234", "mime_type": "image/webp", "sha256": "1a1a"})}}},
		{file: "audio_voice", want: whatsapp.Batch{Messages: []whatsapp.Inbound{
			in("wamid.HBgNAAB1", 1760000130, parley.MessageAudio, "", map[string]any{"media_id": "2345678901", "mime_type": "audio/ogg; codecs=opus", "sha256": "cd34", "voice": true})}}},
		{file: "voice_type", want: whatsapp.Batch{Messages: []whatsapp.Inbound{
			in("wamid.HBgNAAB2", 1760000140, parley.MessageAudio, "", map[string]any{"media_id": "2345678902", "mime_type": "audio/ogg; codecs=opus", "sha256": "cd35", "voice": true})}}},
		{file: "document", want: whatsapp.Batch{Messages: []whatsapp.Inbound{
			in("wamid.HBgNAAB3", 1760000150, parley.MessageDocument, "invoice.pdf", map[string]any{"media_id": "3456789012", "mime_type": "application/pdf", "sha256": "ef56", "filename": "invoice.pdf"})}}},
		{file: "location", want: whatsapp.Batch{Messages: []whatsapp.Inbound{
			in("wamid.HBgNAAB4", 1760000160, parley.MessageLocation, "location: Shop, Rua A, 1 (-23.5505, -46.6333)",
				map[string]any{"latitude": -23.5505, "longitude": -46.6333, "name": "Shop", "address": "Rua A, 1"})}}},
		{file: "contacts", want: whatsapp.Batch{Messages: []whatsapp.Inbound{
			in("wamid.HBgNAAB5", 1760000170, parley.MessageContacts, "contacts: Bruno Costa +55 11 98888-7777", map[string]any{"contacts": []any{
				map[string]any{"name": "Bruno Costa", "phones": []any{map[string]any{"phone": "+55 11 98888-7777", "wa_id": "5511988887777", "type": "CELL"}}}}})}}},
		{file: "reaction", want: whatsapp.Batch{Messages: []whatsapp.Inbound{
			in("wamid.HBgNAAB6", 1760000180, parley.MessageReaction, "👍", map[string]any{"reaction_message_id": "wamid.OUT004", "emoji": "👍"})}}},
		{file: "reaction_removed", want: whatsapp.Batch{Messages: []whatsapp.Inbound{
			in("wamid.HBgNAAB7", 1760000190, parley.MessageReaction, "", map[string]any{"reaction_message_id": "wamid.OUT004", "emoji": "", "removed": true})}}},
		{file: "unsupported", want: whatsapp.Batch{Messages: []whatsapp.Inbound{
			in("wamid.HBgNAAB8", 1760000200, parley.MessageUnknown, "", map[string]any{"original_type": "unsupported", "raw": fixtureMessage(t, "unsupported", 0)})}}},
		{file: "unknown_type_order", want: whatsapp.Batch{Messages: []whatsapp.Inbound{
			in("wamid.HBgNAAB9", 1760000210, parley.MessageUnknown, "", map[string]any{"original_type": "order", "raw": fixtureMessage(t, "unknown_type_order", 0)})}}},
		{file: "malformed_text_object", want: whatsapp.Batch{Messages: []whatsapp.Inbound{
			in("wamid.HBgNAAC1", 1760000220, parley.MessageUnknown, "", map[string]any{"original_type": "text", "raw": fixtureMessage(t, "malformed_text_object", 0),
				"parse_error": "json: cannot unmarshal string into Go struct field Message.text of type whatsapp.Text"})}}},
		{file: "timestamp_millis", want: whatsapp.Batch{Messages: []whatsapp.Inbound{millis}}},
		{file: "username_user", want: whatsapp.Batch{Messages: []whatsapp.Inbound{username}}},
		{file: "status_sent", want: whatsapp.Batch{Statuses: []whatsapp.StatusUpdate{sent}}},
		{file: "status_delivered", want: whatsapp.Batch{Statuses: []whatsapp.StatusUpdate{status("wamid.OUT004", parley.StatusDelivered, 1760000310)}}},
		{file: "status_read", want: whatsapp.Batch{Statuses: []whatsapp.StatusUpdate{status("wamid.OUT004", parley.StatusRead, 1760000320)}}},
		{file: "status_failed", want: whatsapp.Batch{Statuses: []whatsapp.StatusUpdate{failed}}},
		{file: "status_deleted", want: whatsapp.Batch{Skipped: []whatsapp.Skipped{{PhoneNumberID: pnID, ID: "wamid.OUT007", Reason: `status "deleted" ignored`}}}},
		{file: "errors_out_of_band", want: whatsapp.Batch{Errors: []whatsapp.WebhookError{{PhoneNumberID: pnID, WABAID: wabaID,
			Code: 131000, Title: "Something went wrong", Message: "Something went wrong", Details: "Unable to process the request."}}}},
		{file: "batch_multi", want: whatsapp.Batch{
			Messages: []whatsapp.Inbound{in("wamid.HBgNAAD1", 1760000400, parley.MessageText, "first", nil), bruno, carla},
			Statuses: []whatsapp.StatusUpdate{delivered10, read11}}},
		{file: "group_message", want: whatsapp.Batch{Skipped: []whatsapp.Skipped{{PhoneNumberID: pnID, ID: "wamid.HBgNAAE1", Reason: "group message"}}}},
		{file: "field_account_update", want: whatsapp.Batch{Skipped: []whatsapp.Skipped{{Reason: `field "account_update" ignored`}}}},
		{file: "missing_id", want: whatsapp.Batch{Skipped: []whatsapp.Skipped{{PhoneNumberID: pnID, Reason: "message without id"}}}},
		{file: "missing_phone_number_id", want: whatsapp.Batch{Skipped: []whatsapp.Skipped{{Reason: "change without metadata.phone_number_id"}}}},
		{file: "wrong_object", wantErr: whatsapp.ErrWrongObject},
		{file: "malformed", wantErr: whatsapp.ErrMalformed},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		seen[tc.file] = true
		t.Run(tc.file, func(t *testing.T) {
			got, err := whatsapp.Parse(fixture(t, tc.file))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || got != nil {
					t.Fatalf("Parse = %v, %v; want error %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			decodeRaw(t, got)
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("Parse mismatch\n got: %s\nwant: %s", dump(*got), dump(tc.want))
			}
		})
	}
	// Every fixture is covered by the table, so a new one cannot go untested.
	files, _ := filepath.Glob(filepath.Join("testdata", "webhook", "*.json"))
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".json"); !seen[name] {
			t.Errorf("fixture %s has no expectation in TestParseFixtures", name)
		}
	}
}

// decodeRaw turns an unknown message's raw JSON into plain values so that
// the comparison ignores the fixture's whitespace.
func decodeRaw(t *testing.T, b *whatsapp.Batch) {
	for i, m := range b.Messages {
		raw, ok := m.Extra["raw"].(json.RawMessage)
		if !ok {
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("message %d: raw is not JSON: %v", i, err)
		}
		b.Messages[i].Extra["raw"] = v
	}
}

func dump(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

package whatsapp_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/whatsapp"
)

// wrap puts message and status JSON into a one-change envelope for our number.
func wrap(messages, statuses string) []byte {
	v := `{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"106000000000002"}`
	if messages != "" {
		v += `,"contacts":[{"profile":{"name":"Ana Lima"},"wa_id":"5511999990000"}],"messages":[` + messages + `]`
	}
	if statuses != "" {
		v += `,"statuses":[` + statuses + `]`
	}
	v += "}"
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"102000000000001","changes":[{"field":"messages","value":` + v + `}]}]}`)
}

// Edge cases a real payload rarely has: each must come out whole (the
// expected type and content) or be listed in Skipped, never half-parsed.
func TestParseEdgeCases(t *testing.T) {
	tests := []struct {
		name        string
		body        []byte
		wantType    parley.MessageType // "" when no message is expected
		wantContent string
		wantSkipped string // the reason, when the item is skipped
	}{
		{"location without name", wrap(`{"from":"5511999990000","id":"w1","timestamp":"1760000000","type":"location","location":{"latitude":1.5,"longitude":0}}`, ""),
			parley.MessageLocation, "location: 1.5, 0", ""},
		{"location missing longitude is unknown", wrap(`{"from":"5511999990000","id":"w1","timestamp":"1760000000","type":"location","location":{"latitude":1.5}}`, ""),
			parley.MessageUnknown, "", ""},
		{"location out of range is unknown", wrap(`{"from":"5511999990000","id":"w1","timestamp":"1760000000","type":"location","location":{"latitude":91,"longitude":0}}`, ""),
			parley.MessageUnknown, "", ""},
		{"image without media id is unknown", wrap(`{"from":"5511999990000","id":"w1","timestamp":"1760000000","type":"image","image":{"mime_type":"image/png"}}`, ""),
			parley.MessageUnknown, "", ""},
		{"text without text object is unknown", wrap(`{"from":"5511999990000","id":"w1","timestamp":"1760000000","type":"text"}`, ""),
			parley.MessageUnknown, "", ""},
		{"unknown interactive reply is unknown", wrap(`{"from":"5511999990000","id":"w1","timestamp":"1760000000","type":"interactive","interactive":{"type":"product_reply"}}`, ""),
			parley.MessageUnknown, "", ""},
		{"voice type carried in an audio object", wrap(`{"from":"5511999990000","id":"w1","timestamp":"1760000000","type":"voice","audio":{"id":"9","mime_type":"audio/ogg"}}`, ""),
			parley.MessageAudio, "", ""},
		{"numeric timestamp", wrap(`{"from":"5511999990000","id":"w1","timestamp":1760000000,"type":"text","text":{"body":"hi"}}`, ""),
			parley.MessageText, "hi", ""},
		{"bad timestamp is skipped", wrap(`{"from":"5511999990000","id":"w1","timestamp":"yesterday","type":"text","text":{"body":"hi"}}`, ""),
			"", "", `message with bad timestamp "yesterday"`},
		{"negative timestamp is skipped", wrap(`{"from":"5511999990000","id":"w1","timestamp":"-5","type":"text","text":{"body":"hi"}}`, ""),
			"", "", `message with bad timestamp "-5"`},
		{"no sender is skipped", wrap(`{"id":"w1","timestamp":"1760000000","type":"text","text":{"body":"hi"}}`, ""),
			"", "", "message without sender"},
		{"message that is not an object is skipped", wrap(`"w1"`, ""), "", "", "message is not a JSON object"},
		{"null message is skipped", wrap(`null`, ""), "", "", "message is not a JSON object"},
		{"status without id is skipped", wrap("", `{"status":"read","timestamp":"1760000000"}`), "", "", "status without id"},
		{"status with bad timestamp is skipped", wrap("", `{"id":"o1","status":"read","timestamp":""}`), "", "", `status with bad timestamp ""`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := whatsapp.Parse(tc.body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tc.wantType == "" {
				if len(b.Messages) != 0 || len(b.Statuses) != 0 {
					t.Fatalf("got messages %+v statuses %+v, want none", b.Messages, b.Statuses)
				}
				if len(b.Skipped) != 1 || b.Skipped[0].Reason != tc.wantSkipped {
					t.Fatalf("Skipped = %+v, want reason %q", b.Skipped, tc.wantSkipped)
				}
				return
			}
			if len(b.Messages) != 1 {
				t.Fatalf("got %d messages (skipped %+v), want 1", len(b.Messages), b.Skipped)
			}
			m := b.Messages[0]
			if m.Type != tc.wantType || m.Content != tc.wantContent {
				t.Errorf("got %s %q, want %s %q", m.Type, m.Content, tc.wantType, tc.wantContent)
			}
			if m.Type == parley.MessageUnknown && m.Extra["raw"] == nil {
				t.Errorf("unknown message without its raw payload: %+v", m.Extra)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		body string
		want error
	}{
		{"empty body", ``, whatsapp.ErrMalformed},
		{"array", `[]`, whatsapp.ErrMalformed},
		{"entry of the wrong type", `{"object":"whatsapp_business_account","entry":"x"}`, whatsapp.ErrMalformed},
		{"null", `null`, whatsapp.ErrWrongObject},
		{"instagram object", `{"object":"instagram","entry":[]}`, whatsapp.ErrWrongObject},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := whatsapp.Parse([]byte(tc.body)); !errors.Is(err, tc.want) {
				t.Errorf("Parse error = %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzParse feeds the parser arbitrary bytes, seeded with every fixture. It
// must never panic, and whatever it returns must be whole.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "webhook", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	known := map[parley.MessageType]bool{}
	for _, t := range []parley.MessageType{parley.MessageText, parley.MessageInteractive, parley.MessageButton,
		parley.MessageImage, parley.MessageAudio, parley.MessageVideo, parley.MessageDocument, parley.MessageSticker,
		parley.MessageLocation, parley.MessageContacts, parley.MessageReaction, parley.MessageUnknown} {
		known[t] = true
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := whatsapp.Parse(body)
		if err != nil {
			if b != nil {
				t.Fatal("Parse returned a batch with an error")
			}
			if !errors.Is(err, whatsapp.ErrMalformed) && !errors.Is(err, whatsapp.ErrWrongObject) && !errors.Is(err, whatsapp.ErrBodyTooLarge) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, m := range b.Messages {
			switch {
			case m.MessageID == "" || m.PhoneNumberID == "":
				t.Fatalf("message without id or number: %+v", m)
			case !known[m.Type]:
				t.Fatalf("message of invalid type %q", m.Type)
			case m.Timestamp.IsZero():
				t.Fatalf("message without time: %+v", m)
			case m.From == "" && m.UserID == "":
				t.Fatalf("message without sender: %+v", m)
			case m.Type == parley.MessageUnknown:
				raw, ok := m.Extra["raw"].(json.RawMessage)
				if !ok || !json.Valid(raw) {
					t.Fatalf("unknown message without valid raw JSON: %+v", m.Extra)
				}
			case m.Type == parley.MessageLocation && !strings.HasPrefix(m.Content, "location: "):
				t.Fatalf("location without its line: %q", m.Content)
			}
			if _, err := json.Marshal(m.Extra); err != nil {
				t.Fatalf("Extra does not marshal: %v", err)
			}
		}
		for _, s := range b.Statuses {
			if s.MessageID == "" || s.PhoneNumberID == "" || s.Status.Rank() == 0 || s.Timestamp.IsZero() {
				t.Fatalf("half-parsed status: %+v", s)
			}
		}
	})
}

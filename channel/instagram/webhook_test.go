package instagram_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/instagram"
	"github.com/parleyhq/parley/channel/instagram/instagramtest"
	"github.com/parleyhq/parley/channel/meta/metatest"
)

const (
	account = "17841400000000001"
	igsid   = "1234567890123456"
)

func fixture(t testing.TB, name string) []byte {
	return metatest.Fixture(t, filepath.Join("testdata", "webhook"), name)
}

// rawItem is messaging[0] of the fixture's first entry: what Extra["raw"] holds.
func rawItem(t testing.TB, name string) json.RawMessage {
	t.Helper()
	var n struct {
		Entry []struct{ Messaging []json.RawMessage }
	}
	if err := json.Unmarshal(fixture(t, name), &n); err != nil {
		t.Fatal(err)
	}
	return n.Entry[0].Messaging[0]
}

func ms(v int64) time.Time { return time.UnixMilli(v).UTC() }

func in(mid string, at int64, typ parley.MessageType, content string, extra map[string]any) instagram.Inbound {
	return instagram.Inbound{AccountID: account, SenderID: igsid, MessageID: mid, Timestamp: ms(at), Type: typ, Content: content, Extra: extra}
}

// normalize turns Extra values into plain JSON values, so raw payloads
// compare by content.
func normalize(t *testing.T, b *instagram.Batch) {
	t.Helper()
	for i := range b.Messages {
		if b.Messages[i].Extra == nil {
			continue
		}
		raw, err := json.Marshal(b.Messages[i].Extra)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		b.Messages[i].Extra = m
	}
}

func jsonValue(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseFixtures(t *testing.T) {
	img := func(id string) map[string]any {
		return map[string]any{"type": "image", "url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=" + id}
	}
	tests := []struct {
		file string
		want func() instagram.Batch
	}{
		{"text", func() instagram.Batch {
			return instagram.Batch{Messages: []instagram.Inbound{in("aWdfZAG1faXRlbTox", 1733300000000, parley.MessageText, "Do you ship to Porto?", nil)}}
		}},
		{"image", func() instagram.Batch {
			a, b := img("1&signature=x"), img("2&signature=y")
			return instagram.Batch{Messages: []instagram.Inbound{in("aWdfZAG1faXRlbToy", 1733300001000, parley.MessageImage, "",
				map[string]any{"attachments": []any{a, b}})}}
		}},
		{"quick_reply", func() instagram.Batch {
			return instagram.Batch{Messages: []instagram.Inbound{in("aWdfZAG1faXRlbToz", 1733300002000, parley.MessageInteractive, "Great",
				map[string]any{"interactive_type": "quick_reply", "interactive_id": "CSAT_5"})}}
		}},
		{"story_reply", func() instagram.Batch {
			return instagram.Batch{Messages: []instagram.Inbound{in("aWdfZAG1faXRlbTo0", 1733300003000, parley.MessageText, "Love this colour!",
				map[string]any{"story_reply": true, "raw": jsonValue(t, rawItem(t, "story_reply")),
					"story": map[string]any{"id": "3300000000000000001", "url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=9"}})}}
		}},
		{"story_mention", func() instagram.Batch {
			return instagram.Batch{Messages: []instagram.Inbound{in("aWdfZAG1faXRlbTo1", 1733300004000, instagram.MessageStoryMention, "",
				map[string]any{"raw": jsonValue(t, rawItem(t, "story_mention")),
					"attachments": []any{map[string]any{"type": "story_mention", "url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=10"}}})}}
		}},
		{"share", func() instagram.Batch {
			return instagram.Batch{Messages: []instagram.Inbound{in("aWdfZAG1faXRlbTo2", 1733300005000, parley.MessageUnknown, "",
				map[string]any{"raw": jsonValue(t, rawItem(t, "share")), "original_type": "ig_reel",
					"attachments": []any{map[string]any{"type": "ig_reel", "url": "https://www.instagram.com/reel/abc"}}})}}
		}},
		{"echo", func() instagram.Batch {
			return instagram.Batch{Echoes: []instagram.Echo{{AccountID: account, RecipientID: igsid, MessageID: "aWdfZAG1faXRlbTo3"}}}
		}},
		{"deleted", func() instagram.Batch {
			return instagram.Batch{Deleted: []instagram.Deletion{{AccountID: account, SenderID: igsid, MessageID: "aWdfZAG1faXRlbTox"}}}
		}},
		{"read", func() instagram.Batch {
			return instagram.Batch{Reads: []instagram.ReadReceipt{{AccountID: account, SenderID: igsid, MessageID: "aWdfFAKEOUT000001", Timestamp: ms(1733300008000)}}}
		}},
		{"reaction", func() instagram.Batch {
			return instagram.Batch{Messages: []instagram.Inbound{in("reaction:aWdfFAKEOUT000001:"+igsid+":react:1733300009000", 1733300009000,
				parley.MessageReaction, "❤️", map[string]any{"reaction_message_id": "aWdfFAKEOUT000001", "emoji": "❤️", "reaction": "love"})}}
		}},
		{"unsupported", func() instagram.Batch {
			return instagram.Batch{Messages: []instagram.Inbound{in("aWdfZAG1faXRlbTo4", 1733300010000, parley.MessageUnknown, "",
				map[string]any{"raw": jsonValue(t, rawItem(t, "unsupported")), "original_type": "unsupported"})}}
		}},
		{"batch_two_accounts", func() instagram.Batch {
			first := in("aWdfZAG1faXRlbTo5", 1733300011000, parley.MessageText, "first", nil)
			again := in("aWdfZAG1faXRlbTo5", 1733300011500, parley.MessageText, "first", nil)
			other := instagram.Inbound{AccountID: "17841400000000009", SenderID: "6543210987654321", MessageID: "aWdfZAG1faXRlbToxMA",
				Timestamp: ms(1733300012000), Type: parley.MessageText, Content: "olá"}
			return instagram.Batch{Messages: []instagram.Inbound{first, again, other}}
		}},
		{"missing_sender", func() instagram.Batch {
			return instagram.Batch{Skipped: []instagram.Skipped{{AccountID: account, ID: "aWdfZAG1faXRlbToxMQ", Reason: "message without sender"}}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got, err := instagram.Parse(fixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			normalize(t, got)
			want := tc.want()
			normalize(t, &want)
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("Parse(%s)\n got: %+v\nwant: %+v", tc.file, *got, want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	if _, err := instagram.Parse(fixture(t, "malformed")); !errors.Is(err, instagram.ErrMalformed) {
		t.Errorf("malformed: err = %v", err)
	}
	if _, err := instagram.Parse(fixture(t, "wrong_object")); !errors.Is(err, instagram.ErrWrongObject) {
		t.Errorf("wrong object: err = %v", err)
	}
	// A WhatsApp notification is not an Instagram one: one Meta app, routed by object.
	if _, err := instagram.Parse([]byte(`{"object":"whatsapp_business_account","entry":[]}`)); !errors.Is(err, instagram.ErrWrongObject) {
		t.Errorf("whatsapp object: err = %v", err)
	}
}

// The fake's builders produce what Parse reads.
func TestBuildersRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	b, err := instagram.Parse(instagramtest.QuickReplyWebhook(instagramtest.Inbound{AccountID: account, From: igsid, MID: "m1", Time: at}, "Great", "CSAT_5"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Messages) != 1 || b.Messages[0].Extra["interactive_id"] != "CSAT_5" || !b.Messages[0].Timestamp.Equal(at) || b.Messages[0].AccountID != account {
		t.Errorf("quick reply = %+v", b.Messages)
	}
	b, _ = instagram.Parse(instagramtest.EchoWebhook(account, igsid, "m2", "hi"))
	if len(b.Echoes) != 1 || len(b.Messages) != 0 {
		t.Errorf("echo = %+v", b)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"text", "image", "quick_reply", "story_reply", "echo", "read", "reaction", "batch_two_accounts"} {
		f.Add(fixture(f, name))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = instagram.Parse(body) // never panics
	})
}

package twilio_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/twilio"
	"github.com/parleyhq/parley/phone"
)

// FuzzParse feeds webhook bodies, seeded with every fixture, and checks
// that Parse never panics and never returns a half-parsed message.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.form"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		f.Add(fixture(f, strings.TrimSuffix(filepath.Base(file), ".form")))
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, _ := url.ParseQuery(body) // Twilio's body, however mangled: keep what parses
		ev, err := twilio.Parse(form)
		if err != nil {
			var pe *twilio.ParseError
			if ev != nil || !errors.As(err, &pe) {
				t.Fatalf("error %v came with event %+v (or is not a *ParseError)", err, ev)
			}
			return
		}
		if _, err := json.Marshal(ev); err != nil {
			t.Fatalf("event cannot be stored as JSON: %v", err)
		}
		switch ev.Kind {
		case twilio.KindInbound:
			if ev.Inbound == nil || ev.Status != nil {
				t.Fatalf("inbound event with inbound %v and status %v", ev.Inbound, ev.Status)
			}
			checkInbound(t, ev.Inbound)
		case twilio.KindStatus:
			if ev.Status == nil || ev.Inbound != nil {
				t.Fatalf("status event with inbound %v and status %v", ev.Inbound, ev.Status)
			}
			if ev.Status.MessageID == "" || ev.Status.AccountSID == "" || ev.Status.Status.Rank() == 0 {
				t.Fatalf("incomplete status %+v", ev.Status)
			}
		default:
			t.Fatalf("unknown kind %q", ev.Kind)
		}
	})
}

func checkInbound(t *testing.T, in *twilio.Inbound) {
	t.Helper()
	if in.MessageID == "" || in.AccountSID == "" {
		t.Fatalf("inbound without ids: %+v", in)
	}
	for _, n := range []string{in.From, in.To} {
		if again, err := phone.Normalize(n, ""); err != nil || again != n {
			t.Fatalf("address %q is not E.164 (%q, %v)", n, again, err)
		}
	}
	for _, s := range []string{in.Content, in.ProfileName} {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			t.Fatalf("unstorable text %q", s)
		}
	}
	media, _ := in.Extra[twilio.ExtraMedia].([]any)
	if n, ok := in.Extra[twilio.ExtraNumMedia]; ok && n != len(media) {
		t.Fatalf("num_media %v but %d media", n, len(media))
	}
	for _, m := range media {
		mm := m.(map[string]any)
		if mm["url"] == "" || mm["content_type"] == "" {
			t.Fatalf("half-read media %v", mm)
		}
	}
	switch in.Type {
	case parley.MessageText:
		if in.Content == "" {
			t.Fatal("text without content")
		}
	case parley.MessageImage, parley.MessageAudio, parley.MessageVideo, parley.MessageDocument, parley.MessageSticker:
		if len(media) == 0 {
			t.Fatalf("%s without media", in.Type)
		}
	case parley.MessageLocation:
		_, lat := in.Extra[twilio.ExtraLatitude].(float64)
		_, long := in.Extra[twilio.ExtraLongitude].(float64)
		if !lat || !long || in.Content == "" {
			t.Fatalf("location without coordinates: %+v", in)
		}
	case parley.MessageButton, parley.MessageInteractive, parley.MessageUnknown:
	default:
		t.Fatalf("unexpected type %q", in.Type)
	}
}

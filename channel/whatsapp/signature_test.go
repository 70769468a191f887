package whatsapp_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley/channel/whatsapp"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
)

// Every fixture, signed as Meta would sign it, verifies; re-serialising the
// JSON (as a careless handler might) breaks the signature of escaped unicode.
func TestVerifySignatureFixtures(t *testing.T) {
	const secret = "s3cr3t"
	files, _ := filepath.Glob(filepath.Join("testdata", "webhook", "*.json"))
	for _, f := range files {
		body := fixture(t, strings.TrimSuffix(filepath.Base(f), ".json"))
		if !whatsapp.VerifySignature(secret, body, whatsapptest.Sign(secret, body)) {
			t.Errorf("%s: signed fixture does not verify", f)
		}
	}
	body := fixture(t, "text_escaped_unicode")
	sig := whatsapptest.Sign(secret, body)
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	reencoded, _ := json.Marshal(v)
	if whatsapp.VerifySignature(secret, reencoded, sig) {
		t.Error("re-serialised JSON verified; the check must run on the raw bytes")
	}
}

// The body limit is package meta's; Parse keeps it too.
func TestParseBodyLimit(t *testing.T) {
	over := bytes.Repeat([]byte(" "), whatsapp.MaxBodyBytes+1)
	if _, err := whatsapp.Parse(over); !errors.Is(err, whatsapp.ErrBodyTooLarge) {
		t.Fatalf("Parse(1 MiB + 1) error = %v, want ErrBodyTooLarge", err)
	}
}

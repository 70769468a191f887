package meta_test

import (
	"bytes"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/parleyhq/parley/channel/meta"
	"github.com/parleyhq/parley/channel/meta/metatest"
)

func TestVerifySignatureSpecVector(t *testing.T) {
	// The computed test vector of the WhatsApp Cloud API spec, §2.
	body := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	header := "sha256=6eb10e0bc4192e9206e3de93178e66ea9eb262e9ea07bb66abdc83dcf8d3abf3"
	if !meta.VerifySignature("app_secret_example", body, header) {
		t.Fatal("spec test vector does not verify")
	}
	if got := metatest.Sign("app_secret_example", body); got != header {
		t.Fatalf("metatest.Sign = %s, want %s", got, header)
	}
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	good := "sha256=6eb10e0bc4192e9206e3de93178e66ea9eb262e9ea07bb66abdc83dcf8d3abf3"
	tests := []struct {
		name   string
		secret string
		body   []byte
		header string
		want   bool
	}{
		{"valid", "app_secret_example", body, good, true},
		{"surrounding spaces", "app_secret_example", body, " " + good + " ", true},
		{"wrong secret", "other_secret", body, good, false},
		{"empty secret fails closed", "", body, metatest.Sign("", body), false},
		{"body changed by one byte", "app_secret_example", append(bytes.Clone(body[:len(body)-1]), ' '), good, false},
		{"missing header", "app_secret_example", body, "", false},
		{"no sha256= prefix", "app_secret_example", body, strings.TrimPrefix(good, "sha256="), false},
		{"sha1 scheme", "app_secret_example", body, "sha1=" + strings.TrimPrefix(good, "sha256="), false},
		{"truncated hex", "app_secret_example", body, good[:len(good)-2], false},
		{"not hex", "app_secret_example", body, "sha256=" + strings.Repeat("zz", 32), false},
		{"last digit wrong", "app_secret_example", body, good[:len(good)-1] + "4", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := meta.VerifySignature(tc.secret, tc.body, tc.header); got != tc.want {
				t.Errorf("VerifySignature = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestVerifyChallenge(t *testing.T) {
	q := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name  string
		query url.Values
		token string
		want  string
		ok    bool
	}{
		{"subscribe with our token", q("hub.mode", "subscribe", "hub.verify_token", "tok", "hub.challenge", "1158201444"), "tok", "1158201444", true},
		{"wrong token", q("hub.mode", "subscribe", "hub.verify_token", "nope", "hub.challenge", "1"), "tok", "", false},
		{"token prefix only", q("hub.mode", "subscribe", "hub.verify_token", "to", "hub.challenge", "1"), "tok", "", false},
		{"wrong mode", q("hub.mode", "unsubscribe", "hub.verify_token", "tok", "hub.challenge", "1"), "tok", "", false},
		{"no mode", q("hub.verify_token", "tok", "hub.challenge", "1"), "tok", "", false},
		{"no challenge", q("hub.mode", "subscribe", "hub.verify_token", "tok"), "tok", "", false},
		{"our token unset", q("hub.mode", "subscribe", "hub.verify_token", "", "hub.challenge", "1"), "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := meta.VerifyChallenge(tc.query, tc.token)
			if got != tc.want || ok != tc.ok {
				t.Errorf("VerifyChallenge = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestReadBody(t *testing.T) {
	exact := bytes.Repeat([]byte(" "), meta.MaxBodyBytes)
	if b, err := meta.ReadBody(bytes.NewReader(exact)); err != nil || len(b) != meta.MaxBodyBytes {
		t.Fatalf("ReadBody(1 MiB) = %d bytes, %v; want all of it", len(b), err)
	}
	over := append(exact, ' ')
	if _, err := meta.ReadBody(bytes.NewReader(over)); !errors.Is(err, meta.ErrBodyTooLarge) {
		t.Fatalf("ReadBody(1 MiB + 1) error = %v, want ErrBodyTooLarge", err)
	}
}

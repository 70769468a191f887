package meta

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// MaxBodyBytes is the largest webhook body accepted (1 MiB); larger bodies
// are answered 413.
const MaxBodyBytes = 1 << 20

// SignatureHeader carries the body's HMAC-SHA256 under the app secret.
const SignatureHeader = "X-Hub-Signature-256"

// ErrBodyTooLarge is ReadBody's error for a body over MaxBodyBytes.
var ErrBodyTooLarge = errors.New("meta: webhook body larger than 1 MiB")

// VerifySignature reports whether header ("sha256=<hex>") is the
// HMAC-SHA256 of the raw body under appSecret. It must run on the exact
// bytes received, before any decoding. An empty secret never verifies, so a
// misconfigured channel fails closed.
func VerifySignature(appSecret string, body []byte, header string) bool {
	if appSecret == "" {
		return false
	}
	hexSum, ok := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !ok || len(hexSum) != 2*sha256.Size {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// VerifyChallenge checks Meta's subscription handshake. When ok, the
// caller answers 200 with challenge as text/plain; otherwise 403.
func VerifyChallenge(q url.Values, verifyToken string) (challenge string, ok bool) {
	if verifyToken == "" || q.Get("hub.mode") != "subscribe" {
		return "", false
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("hub.verify_token")), []byte(verifyToken)) != 1 {
		return "", false
	}
	challenge = q.Get("hub.challenge")
	if challenge == "" {
		return "", false
	}
	return challenge, true
}

// ReadBody reads a webhook body of at most MaxBodyBytes; a longer one gives
// ErrBodyTooLarge (answer 413) without reading it all.
func ReadBody(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("meta: read webhook body: %w", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, ErrBodyTooLarge
	}
	return body, nil
}

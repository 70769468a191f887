// Package metatest is what the fakes of Meta's channels (whatsapptest,
// instagramtest) share: signing a webhook delivery as Meta does and
// posting it. Like those fakes it imports no testing package, so `parley
// simulate` can use it.
package metatest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// Sign returns the X-Hub-Signature-256 header Meta would send for body
// under appSecret: "sha256=" and the lowercase hex HMAC-SHA256.
func Sign(appSecret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

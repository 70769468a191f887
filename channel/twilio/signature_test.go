package twilio_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"testing"

	"github.com/parleyhq/parley/channel/twilio"
)

// docParams are the POST parameters of Twilio's documented example (§2).
var docParams = url.Values{
	"CallSid": {"CA1234567890ABCDE"},
	"Caller":  {"+12349013030"},
	"Digits":  {"1234"},
	"From":    {"+12349013030"},
	"To":      {"+18005551212"},
}

const docURL = "https://mycompany.com/myapp.php?foo=1&bar=2"

func TestSignatureDocumentedVector(t *testing.T) {
	// The algorithm written out by hand: URL, then name+value in name order.
	data := docURL + "CallSidCA1234567890ABCDE" + "Caller+12349013030" + "Digits1234" +
		"From+12349013030" + "To+18005551212"
	mac := hmac.New(sha1.New, []byte("12345"))
	mac.Write([]byte(data))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))

	const documented = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=" // the value Twilio's docs give
	if want != documented {
		t.Fatalf("hand-computed %q differs from the documented %q", want, documented)
	}
	if got := twilio.Sign("12345", docURL, docParams); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	if !twilio.ValidateSignature("12345", docURL, docParams, documented) {
		t.Fatal("ValidateSignature refused the documented signature")
	}
}

func TestValidateSignature(t *testing.T) {
	const token = "12345"
	signed := twilio.Sign(token, docURL, docParams)
	with := func(name, value string) url.Values {
		f := url.Values{}
		for k, v := range docParams {
			f[k] = append([]string(nil), v...)
		}
		f.Set(name, value)
		return f
	}

	tests := []struct {
		name   string
		token  string
		url    string
		form   url.Values
		header string
		want   bool
	}{
		{"valid", token, docURL, docParams, signed, true},
		{"wrong token", "54321", docURL, docParams, signed, false},
		{"empty token never validates", "", docURL, docParams, twilio.Sign("", docURL, docParams), false},
		{"no header", token, docURL, docParams, "", false},
		{"garbage header", token, docURL, docParams, "not-a-signature", false},
		{"tampered value", token, docURL, with("Digits", "9999"), signed, false},
		{"added field", token, docURL, with("Extra", "1"), signed, false},
		{"other path", token, "https://mycompany.com/other.php?foo=1&bar=2", docParams, signed, false},
		{"query dropped", token, "https://mycompany.com/myapp.php", docParams, signed, false},
		{"http instead of https", token, "http://mycompany.com/myapp.php?foo=1&bar=2", docParams, signed, false},
		{"Twilio signed with :443, we see none", token, docURL,
			docParams, twilio.Sign(token, "https://mycompany.com:443/myapp.php?foo=1&bar=2", docParams), true},
		{"Twilio signed without port, we see :443", token, "https://mycompany.com:443/myapp.php?foo=1&bar=2",
			docParams, signed, true},
		{"Twilio signed without port, we see :8443", token, "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
			docParams, signed, true},
		{"http default port", token, "http://example.com/hook",
			docParams, twilio.Sign(token, "http://example.com:80/hook", docParams), true},
		{"GET webhook: URL only", token, docURL, nil, twilio.Sign(token, docURL, nil), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := twilio.ValidateSignature(tt.token, tt.url, tt.form, tt.header); got != tt.want {
				t.Fatalf("ValidateSignature = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSignRepeatedNamesInReceivedOrder(t *testing.T) {
	form := url.Values{"B": {"2"}, "A": {"y", "x"}}
	mac := hmac.New(sha1.New, []byte("tok"))
	mac.Write([]byte("https://h/p" + "Ay" + "Ax" + "B2"))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if got := twilio.Sign("tok", "https://h/p", form); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

package twiliotest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/parleyhq/parley/phone"
)

// maxRequest bounds a request body; real sends are a few hundred bytes.
const maxRequest = 64 << 10

// allowed reports whether a Parley send may carry the parameter (§4).
// Twilio ignores others; the fake refuses them, so a typo in the sender
// fails a test.
func allowed(name string) bool {
	switch name {
	case "To", "From", "MessagingServiceSid", "Body", "MediaUrl", "ContentSid", "ContentVariables", "StatusCallback":
		return true
	}
	return false
}

// readMessage checks a send's form as the spec describes it and returns the
// message, or the error Twilio would answer. Codes are Twilio's where the
// spec or Twilio's error list gives one; checks only the fake makes answer
// 400 with no code.
func (s *Server) readMessage(r *http.Request, account string) (Message, *Failure) {
	r.Body = http.MaxBytesReader(nil, r.Body, maxRequest)
	// ParseForm leaves PostForm empty unless the body is form-encoded, so
	// a JSON body is refused below for lacking To, as Twilio would.
	if err := r.ParseForm(); err != nil {
		return Message{}, strict("unreadable form: %v", err)
	}
	f := r.PostForm
	for name, vs := range f {
		switch {
		case !allowed(name):
			return Message{}, strict("unexpected parameter %q", name)
		case len(vs) > 1:
			return Message{}, strict("parameter %q given %d times", name, len(vs))
		}
	}
	m := Message{
		AccountSID:          account,
		From:                f.Get("From"),
		To:                  f.Get("To"),
		MessagingServiceSID: f.Get("MessagingServiceSid"),
		Body:                f.Get("Body"),
		ContentSID:          f.Get("ContentSid"),
		StatusCallback:      f.Get("StatusCallback"),
		Status:              "queued",
		Form:                f,
	}
	if u := f.Get("MediaUrl"); u != "" {
		m.MediaURLs = []string{u}
	}

	switch {
	case m.To == "":
		return m, coded(21604, "A 'To' phone number is required.")
	case !whatsappE164(m.To):
		return m, coded(21211, "The 'To' number "+m.To+" is not a valid phone number.")
	case m.From == "" && m.MessagingServiceSID == "":
		return m, coded(21603, "A 'From' phone number is required.")
	case m.From != "" && m.MessagingServiceSID != "":
		return m, strict("From and MessagingServiceSid are both set")
	case m.From != "" && !whatsappE164(m.From):
		return m, coded(21212, "The 'From' number "+m.From+" is not a valid phone number, shortcode, or alphanumeric sender ID.")
	case m.MessagingServiceSID != "" && !sidLike(m.MessagingServiceSID, "MG"):
		return m, coded(21701, "The Messaging Service Sid "+m.MessagingServiceSID+" is invalid.")
	case m.ContentSID == "" && m.Body == "" && len(m.MediaURLs) == 0:
		return m, coded(21602, "Message body is required.")
	case m.ContentSID != "" && (m.Body != "" || len(m.MediaURLs) > 0):
		return m, strict("ContentSid is sent with Body or MediaUrl")
	case m.ContentSID != "" && !sidLike(m.ContentSID, "HX"):
		return m, strict("ContentSid %q is not an HX… SID", m.ContentSID)
	case m.ContentSID == "" && f.Has("ContentVariables"):
		return m, strict("ContentVariables without ContentSid")
	case utf8.RuneCountInString(m.Body) > 1600:
		return m, coded(21617, "The concatenated message body exceeds the 1600 character limit.")
	case len(m.MediaURLs) > 0 && !absoluteURL(m.MediaURLs[0]):
		return m, strict("MediaUrl is not an absolute http(s) URL")
	case m.StatusCallback != "" && !absoluteURL(m.StatusCallback):
		return m, coded(21609, "The StatusCallback URL "+m.StatusCallback+" is not a valid URL.")
	}
	if f.Has("ContentVariables") {
		// A JSON string holding an object of strings (§4).
		if err := json.Unmarshal([]byte(f.Get("ContentVariables")), &m.ContentVariables); err != nil || m.ContentVariables == nil {
			return m, coded(21656, "The ContentVariables Parameter is invalid.")
		}
	}
	if m.MessagingServiceSID != "" {
		m.Status = "accepted"
	}
	return m, nil
}

func coded(code int, msg string) *Failure {
	return &Failure{Status: http.StatusBadRequest, Code: code, Message: msg}
}

func strict(format string, args ...any) *Failure {
	return &Failure{Status: http.StatusBadRequest, Message: "twiliotest: " + fmt.Sprintf(format, args...)}
}

// whatsappE164 accepts exactly "whatsapp:" and a canonical E.164 number.
func whatsappE164(addr string) bool {
	n, ok := strings.CutPrefix(addr, "whatsapp:")
	if !ok {
		return false
	}
	e164, err := phone.Normalize(n, "")
	return err == nil && e164 == n
}

func sidLike(s, prefix string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for _, c := range s[2:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func absoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

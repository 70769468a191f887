package twilio

import (
	"math"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/phone"
)

// maxMedia bounds NumMedia: Twilio carries at most ten media per message
// (WhatsApp one), and a forged count must not drive our loops.
const maxMedia = 10

// Parse reads a webhook form (already signature-checked) and tells an
// inbound message from a status callback. It never returns a partial
// result: either a complete *Event, or nil and a *ParseError naming the
// field at fault. Fields it does not know are ignored, as Twilio adds new
// ones without notice (§1).
func Parse(form url.Values) (*Event, error) {
	if isStatusCallback(form) {
		st, err := parseStatus(form)
		if err != nil {
			return nil, err
		}
		return &Event{Kind: KindStatus, Status: st}, nil
	}
	in, err := parseInbound(form)
	if err != nil {
		return nil, err
	}
	return &Event{Kind: KindInbound, Inbound: in}, nil
}

// isStatusCallback: status callbacks carry MessageStatus (§3); inbound
// messages carry none, or the legacy SmsStatus "received".
func isStatusCallback(form url.Values) bool {
	s := form.Get(FieldMessageStatus)
	if s == "" {
		s = form.Get(FieldSmsStatus)
	}
	switch strings.ToLower(s) {
	case "", "received", "receiving":
		return false
	}
	return true
}

// deliveryStatus maps Twilio's MessageStatus (§3) to Parley's. "sending"
// is grouped with "sent" as the spec does; "canceled" never goes out.
func deliveryStatus(twilioStatus string) (parley.DeliveryStatus, bool) {
	switch twilioStatus {
	case "accepted", "scheduled", "queued":
		return parley.StatusQueued, true
	case "sending", "sent":
		return parley.StatusSent, true
	case "delivered":
		return parley.StatusDelivered, true
	case "read":
		return parley.StatusRead, true
	case "undelivered", "failed", "canceled":
		return parley.StatusFailed, true
	}
	return "", false
}

// describe explains the codes a status callback may carry without a
// message of its own (§4 table).
func describe(code string) string {
	switch code {
	case "63016":
		return "outside the 24-hour window: only a template may be sent"
	case "63018":
		return "rate limit exceeded for the WhatsApp channel"
	case "63024":
		return "invalid message recipient"
	case "63049":
		return "Meta chose not to deliver this marketing message"
	case "21211":
		return "invalid 'To' number"
	}
	return ""
}

func parseStatus(form url.Values) (*StatusUpdate, error) {
	var f fields
	st := &StatusUpdate{
		MessageID:  f.sid(form, "", FieldMessageSid, FieldSmsSid),
		AccountSID: f.sid(form, "AC", FieldAccountSid),
	}
	name := FieldMessageStatus
	raw := f.text(form, FieldMessageStatus)
	if raw == "" {
		name, raw = FieldSmsStatus, f.text(form, FieldSmsStatus)
	}
	st.TwilioStatus = strings.ToLower(raw)
	status, ok := deliveryStatus(st.TwilioStatus)
	if !ok {
		f.fail(invalid(name, nil))
	}
	st.Status = status
	if code := f.text(form, FieldErrorCode); code != "" {
		if len(code) > 10 || !allDigits(code) {
			f.fail(invalid(FieldErrorCode, nil))
		}
		st.ErrorCode = code
	}
	st.ErrorMessage = f.text(form, FieldErrorMessage)
	if st.ErrorMessage == "" {
		st.ErrorMessage = f.text(form, FieldChannelStatusMessage)
	}
	if st.ErrorMessage == "" {
		st.ErrorMessage = describe(st.ErrorCode)
	}
	if f.err != nil {
		return nil, f.err
	}
	return st, nil
}

func parseInbound(form url.Values) (*Inbound, error) {
	var f fields
	in := &Inbound{
		MessageID:   f.sid(form, "", FieldMessageSid, FieldSmsMessageSid, FieldSmsSid),
		AccountSID:  f.sid(form, "AC", FieldAccountSid),
		From:        f.address(form, FieldFrom),
		To:          f.address(form, FieldTo),
		ProfileName: f.text(form, FieldProfileName),
		Extra:       map[string]any{},
	}
	body := f.text(form, FieldBody)
	media := f.media(form)
	lat, long, hasPlace := f.place(form)
	payload, buttonText := f.text(form, FieldButtonPayload), f.text(form, FieldButtonText)
	twilioType := f.text(form, FieldMessageType)
	if f.err != nil {
		return nil, f.err
	}

	in.Type = messageType(strings.ToLower(twilioType), media, hasPlace, payload != "" || buttonText != "", body)
	in.Content = body
	switch in.Type {
	case parley.MessageText:
		if body == "" {
			return nil, missing(FieldBody)
		}
	case parley.MessageImage, parley.MessageAudio, parley.MessageVideo, parley.MessageDocument, parley.MessageSticker:
		if len(media) == 0 {
			return nil, missing(FieldMediaURL + "0")
		}
	case parley.MessageLocation:
		if !hasPlace {
			return nil, missing(FieldLatitude)
		}
		in.Content = placeText(body, form.Get(FieldLabel), form.Get(FieldAddress), lat, long)
	case parley.MessageButton, parley.MessageInteractive:
		if payload == "" && buttonText == "" && body == "" {
			return nil, missing(FieldButtonPayload)
		}
		if buttonText != "" {
			in.Content = buttonText
		}
	}

	x := in.Extra
	if len(media) > 0 {
		x[ExtraNumMedia] = len(media)
		x[ExtraMedia] = media
	}
	if hasPlace {
		x[ExtraLatitude], x[ExtraLongitude] = lat, long
		putText(x, ExtraAddress, form, FieldAddress)
		putText(x, ExtraLabel, form, FieldLabel)
	}
	if payload != "" {
		x[ExtraButtonPayload] = payload
	}
	if buttonText != "" {
		x[ExtraButtonText] = buttonText
	}
	in.ReplyToID = form.Get(FieldRepliedSid)
	if in.ReplyToID != "" && !validSID(in.ReplyToID, "") {
		return nil, invalid(FieldRepliedSid, nil)
	}
	putText(x, ExtraReplyToSender, form, FieldRepliedSender)
	putFlag(x, ExtraForwarded, form, FieldForwarded)
	putFlag(x, ExtraFrequentlyForwarded, form, FieldFrequentlyForwarded)
	putText(x, ExtraWaID, form, FieldWaID)
	putText(x, ExtraMessagingService, form, FieldMessagingServiceSid)
	putText(x, ExtraTwilioType, form, FieldMessageType)
	// Twilio sends ReferralNumMedia=0 with every message; only a real
	// referral (a Click-to-WhatsApp ad) is worth keeping.
	if ref := prefixed(form, FieldReferralPrefix); len(ref) > 1 || len(ref) == 1 && ref["ReferralNumMedia"] == nil {
		x[ExtraReferral] = ref
	}
	// Kinds we do not model keep the whole form, so nothing is lost and
	// the list-picker fields (unverified, §1) can be learned from logs.
	if in.Type == parley.MessageUnknown || in.Type == parley.MessageInteractive {
		x[ExtraRaw] = prefixed(form, "")
	}
	return in, nil
}

// messageType trusts Twilio's MessageType when it names a kind we model,
// keeps a kind it names but we do not as unknown, and infers one from the
// fields present when MessageType is absent.
func messageType(twilioType string, media []any, hasPlace, hasButton bool, body string) parley.MessageType {
	switch twilioType {
	case "text":
		return parley.MessageText
	case "image", "audio", "video", "document", "sticker", "location", "button", "interactive":
		return parley.MessageType(twilioType)
	case "":
	default:
		return parley.MessageUnknown
	}
	switch {
	case hasPlace:
		return parley.MessageLocation
	case hasButton:
		return parley.MessageButton
	case len(media) > 0:
		ct := media[0].(map[string]any)["content_type"].(string)
		switch {
		case ct == "image/webp":
			return parley.MessageSticker // WhatsApp's stickers are WebP
		case strings.HasPrefix(ct, "image/"):
			return parley.MessageImage
		case strings.HasPrefix(ct, "audio/"):
			return parley.MessageAudio
		case strings.HasPrefix(ct, "video/"):
			return parley.MessageVideo
		}
		return parley.MessageDocument
	case body != "":
		return parley.MessageText
	}
	return parley.MessageUnknown
}

// placeText is what a shared location says to a reader: the caption, else
// the place's name and address, else its coordinates.
func placeText(body, label, address string, lat, long float64) string {
	if body != "" {
		return body
	}
	var parts []string
	for _, s := range []string{clean(label), clean(address)} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) > 0 {
		return strings.Join(parts, ", ")
	}
	return strconv.FormatFloat(lat, 'f', -1, 64) + "," + strconv.FormatFloat(long, 'f', -1, 64)
}

// fields reads form values and remembers the first problem, so a parser
// can read everything in a row and check once.
type fields struct{ err error }

func (f *fields) fail(err error) {
	if f.err == nil {
		f.err = err
	}
}

// text returns the single value of name, cleaned; a name given twice with
// different values is ambiguous and refused.
func (f *fields) text(form url.Values, name string) string {
	vs := form[name]
	if len(vs) == 0 {
		return ""
	}
	for _, v := range vs[1:] {
		if v != vs[0] {
			f.fail(invalid(name, nil))
			return ""
		}
	}
	return clean(vs[0])
}

// sid reads the first of names present as a Twilio SID: two letters (with
// prefix, when given) and 32 letters or digits. It is a dedupe key, so junk
// is refused rather than stored.
func (f *fields) sid(form url.Values, prefix string, names ...string) string {
	for _, name := range names {
		v := f.text(form, name)
		if v == "" {
			continue
		}
		if !validSID(v, prefix) {
			f.fail(invalid(name, nil))
			return ""
		}
		return v
	}
	f.fail(missing(names[0]))
	return ""
}

// address reads a "whatsapp:+…" address as E.164. Anything but a WhatsApp
// address is refused: a reply over WhatsApp to an SMS sender would fail.
func (f *fields) address(form url.Values, name string) string {
	v := f.text(form, name)
	if v == "" {
		f.fail(missing(name))
		return ""
	}
	if len(v) < len(AddressPrefix) || !strings.EqualFold(v[:len(AddressPrefix)], AddressPrefix) {
		f.fail(invalid(name, nil))
		return ""
	}
	e164, err := phone.Normalize(v, "")
	if err != nil {
		f.fail(invalid(name, err))
		return ""
	}
	return e164
}

// media reads NumMedia and each MediaUrlN/MediaContentTypeN; a count
// without its URLs is refused, never half-read.
func (f *fields) media(form url.Values) []any {
	raw := f.text(form, FieldNumMedia)
	if raw == "" {
		return nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 || n > maxMedia {
		f.fail(invalid(FieldNumMedia, err))
		return nil
	}
	var out []any
	for i := range n {
		idx := strconv.Itoa(i)
		u := f.text(form, FieldMediaURL+idx)
		ct := strings.ToLower(f.text(form, FieldMediaContentType+idx))
		switch {
		case u == "":
			f.fail(missing(FieldMediaURL + idx))
			return nil
		case !validURL(u):
			f.fail(invalid(FieldMediaURL+idx, nil))
			return nil
		case ct == "":
			f.fail(missing(FieldMediaContentType + idx))
			return nil
		}
		out = append(out, map[string]any{"url": u, "content_type": ct})
	}
	return out
}

// place reads Latitude and Longitude: both or neither, finite and in range.
func (f *fields) place(form url.Values) (lat, long float64, ok bool) {
	rawLat, rawLong := f.text(form, FieldLatitude), f.text(form, FieldLongitude)
	if rawLat == "" && rawLong == "" {
		return 0, 0, false
	}
	lat, errLat := strconv.ParseFloat(rawLat, 64)
	long, errLong := strconv.ParseFloat(rawLong, 64)
	switch {
	case rawLat == "":
		f.fail(missing(FieldLatitude))
	case rawLong == "":
		f.fail(missing(FieldLongitude))
	case errLat != nil || math.IsNaN(lat) || math.Abs(lat) > 90:
		f.fail(invalid(FieldLatitude, errLat))
	case errLong != nil || math.IsNaN(long) || math.Abs(long) > 180:
		f.fail(invalid(FieldLongitude, errLong))
	default:
		return lat, long, true
	}
	return 0, 0, false
}

func putText(x map[string]any, key string, form url.Values, name string) {
	if v := clean(form.Get(name)); v != "" {
		x[key] = v
	}
}

func putFlag(x map[string]any, key string, form url.Values, name string) {
	if b, err := strconv.ParseBool(form.Get(name)); err == nil && b {
		x[key] = true
	}
}

// prefixed collects the form fields whose names start with prefix, one
// value as a string and several as a list.
func prefixed(form url.Values, prefix string) map[string]any {
	out := map[string]any{}
	for name, vs := range form {
		if !strings.HasPrefix(name, prefix) || len(vs) == 0 {
			continue
		}
		if len(vs) == 1 {
			out[clean(name)] = clean(vs[0])
			continue
		}
		list := make([]any, len(vs))
		for i, v := range vs {
			list[i] = clean(v)
		}
		out[clean(name)] = list
	}
	return out
}

// clean makes a value safe to store: valid UTF-8 and no NUL bytes, which
// PostgreSQL's text type refuses. Twilio sends neither; a forgery might.
func clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ReplaceAll(s, "\x00", "")
}

func validSID(s, prefix string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		isUpper, isLower, isDigit := c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9'
		if (i < 2 && !isUpper) || (i >= 2 && !isLower && !isUpper && !isDigit) {
			return false
		}
	}
	return true
}

func validURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

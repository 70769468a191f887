package channel

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/whatsapp"
	"github.com/parleyhq/parley/store"
)

// serveWhatsAppVerify answers Meta's subscription handshake (Cloud API §1, see package whatsapp).
func (g *Gateway) serveWhatsAppVerify(w http.ResponseWriter, r *http.Request) {
	challenge, ok := whatsapp.VerifyChallenge(r.URL.Query(), g.verifyToken)
	if !ok {
		g.log.WarnContext(r.Context(), "WhatsApp webhook verification refused", "mode", r.URL.Query().Get("hub.mode"))
		writeError(w, http.StatusForbidden, string(parley.CodeForbidden), "verification token mismatch")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(challenge))
}

// serveWhatsApp takes a Cloud API notification (Cloud API §2, see package whatsapp): body at most
// 1 MiB (413), signature checked on the raw bytes before anything else
// (401, nothing stored), then everything stored in one transaction and 200.
//
// A correctly signed body that is not a usable notification (not JSON, not
// a WhatsApp object) is answered 200 and counted as "malformed": it can
// only come from Meta, and any other answer makes Meta redeliver the same
// useless payload for up to 7 days (Cloud API §2.3, see package whatsapp). A database failure is 500,
// so Meta does redeliver and nothing is lost.
func (g *Gateway) serveWhatsApp(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, err := whatsapp.ReadBody(r.Body)
	if errors.Is(err, whatsapp.ErrBodyTooLarge) {
		g.count(providerWhatsApp, "too_large", 1)
		writeError(w, http.StatusRequestEntityTooLarge, string(parley.CodeTooLarge), "the body is over 1 MiB")
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, string(parley.CodeInvalid), "the body could not be read")
		return
	}
	if !whatsapp.VerifySignature(g.appSecret, body, r.Header.Get(whatsapp.SignatureHeader)) {
		g.count(providerWhatsApp, "bad_signature", 1)
		g.log.WarnContext(ctx, "WhatsApp webhook with a missing or wrong signature refused", "remote", r.RemoteAddr)
		writeError(w, http.StatusUnauthorized, string(parley.CodeUnauthorized), "missing or invalid "+whatsapp.SignatureHeader)
		return
	}
	b, err := whatsapp.Parse(body)
	if err != nil {
		g.count(providerWhatsApp, "malformed", 1)
		g.log.WarnContext(ctx, "signed WhatsApp webhook is not a usable notification: acknowledged and dropped", "err", err)
		writeOK(w)
		return
	}
	for _, s := range b.Skipped {
		g.log.InfoContext(ctx, "WhatsApp webhook item skipped", "phone_number_id", s.PhoneNumberID, "id", s.ID, "reason", s.Reason)
	}
	g.count(providerWhatsApp, "skipped", len(b.Skipped))
	for _, e := range b.Errors {
		g.log.WarnContext(ctx, "WhatsApp reported an error for a number", "phone_number_id", e.PhoneNumberID, "code", e.Code,
			"title", e.Title, "details", e.Details)
	}
	g.count(providerWhatsApp, "provider_error", len(b.Errors))

	if err := g.ingest(ctx, providerWhatsApp, whatsAppBatches(b)); err != nil {
		g.log.ErrorContext(ctx, "storing a WhatsApp webhook failed; Meta will redeliver", "err", err)
		writeError(w, http.StatusInternalServerError, string(parley.CodeInternal), "internal error")
		return
	}
	writeOK(w)
}

func writeOK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"received"}`))
}

// whatsAppBatches groups a notification's items by business number, in
// the order the numbers first appear.
func whatsAppBatches(b *whatsapp.Batch) []batch {
	var out []batch
	index := map[string]int{}
	get := func(pnid string) *batch {
		i, ok := index[pnid]
		if !ok {
			i = len(out)
			index[pnid] = i
			out = append(out, batch{route: pnid, lookup: func(ctx context.Context, q *store.Queries) (parley.Channel, error) {
				return ownerOf(ctx, q, pnid)
			}})
		}
		return &out[i]
	}
	for _, m := range b.Messages {
		bt := get(m.PhoneNumberID)
		bt.messages = append(bt.messages, whatsAppInbox(m))
	}
	for _, s := range b.Statuses {
		bt := get(s.PhoneNumberID)
		reason := s.ErrorTitle
		if s.ErrorDetail != "" && s.ErrorDetail != s.ErrorTitle {
			reason = strings.TrimPrefix(reason+": "+s.ErrorDetail, ": ")
		}
		bt.statuses = append(bt.statuses, statusItem{
			ProviderMessageID: s.MessageID, CallbackData: s.CallbackData, Status: s.Status,
			ErrorCode: s.ErrorCode, ErrorReason: reason,
		})
	}
	return out
}

// whatsAppInbox is a parsed message as the inbox keeps it. The quoted
// message and a username user's id ride along in Extra.
func whatsAppInbox(m whatsapp.Inbound) store.InboxMessage {
	extra := make(map[string]any, len(m.Extra)+2)
	for k, v := range m.Extra {
		extra[k] = v
	}
	if m.ReplyToID != "" {
		extra["reply_to"] = m.ReplyToID
	}
	if m.UserID != "" {
		extra["user_id"] = m.UserID
	}
	if len(extra) == 0 {
		extra = nil
	}
	return store.InboxMessage{
		ProviderMessageID: m.MessageID, Sender: m.From, ContactName: m.ContactName,
		Type: m.Type, Content: m.Content, Extra: extra, SentAt: m.Timestamp,
	}
}

// unverified is the lookup's answer for a number that channels claim but
// none has proven to own yet: its messages are held, and a status goes to
// whichever claim sent the message it names.
type unverified struct{ claims []parley.Channel }

func (u *unverified) Error() string { return "no claim on this number has passed its ownership check" }

// ownerOf is the channel a Cloud API number's webhooks go to: the oldest
// WhatsApp claim whose check proved its token can read the number. Being
// first to register a number proves nothing (issue 15).
func ownerOf(ctx context.Context, q *store.Queries, pnid string) (parley.Channel, error) {
	chs, err := q.ChannelsByPhoneNumberID(ctx, pnid)
	ch, err := ownerAmong(pnid, chs, err)
	var claims *unverified
	if errors.As(err, &claims) {
		// About to hold the messages: read the claims again, locked, so an
		// ownership check being recorded right now either is seen (and the
		// messages go to its channel) or sees what we hold and releases it.
		chs, err := q.LockChannelsByPhoneNumberID(ctx, pnid)
		return ownerAmong(pnid, chs, err)
	}
	return ch, err
}

func ownerAmong(pnid string, chs []parley.Channel, err error) (parley.Channel, error) {
	if err != nil {
		return parley.Channel{}, err
	}
	var claims []parley.Channel
	for _, ch := range chs {
		if ch.Type != parley.ChannelWhatsApp {
			continue
		}
		if ch.Verified() {
			return ch, nil
		}
		claims = append(claims, ch)
	}
	if len(claims) == 0 {
		return parley.Channel{}, parley.Errorf(parley.CodeNotFound, "no WhatsApp channel with phone_number_id %s", pnid)
	}
	return parley.Channel{}, &unverified{claims: claims}
}

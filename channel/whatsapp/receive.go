package whatsapp

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/store"
)

// serveWhatsAppVerify answers Meta's subscription handshake (Cloud API §1).
func (p *Provider) serveVerify(w http.ResponseWriter, r *http.Request) {
	challenge, ok := VerifyChallenge(r.URL.Query(), p.VerifyToken)
	if !ok {
		p.log().WarnContext(r.Context(), "WhatsApp webhook verification refused", "mode", r.URL.Query().Get("hub.mode"))
		channel.WriteError(w, http.StatusForbidden, string(parley.CodeForbidden), "verification token mismatch")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(challenge))
}

// serveWhatsApp takes a Cloud API notification (Cloud API §2): body at most
// 1 MiB (413), signature checked on the raw bytes before anything else
// (401, nothing stored), then everything stored in one transaction and 200.
//
// A correctly signed body that is not a usable notification (not JSON, not
// a WhatsApp object) is answered 200 and counted as "malformed": it can
// only come from Meta, and any other answer makes Meta redeliver the same
// useless payload for up to 7 days (Cloud API §2.3). A database failure is 500,
// so Meta does redeliver and nothing is lost.
func (p *Provider) serve(in channel.Intake, w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, err := ReadBody(r.Body)
	if errors.Is(err, ErrBodyTooLarge) {
		in.Count(Name, "too_large", 1)
		channel.WriteError(w, http.StatusRequestEntityTooLarge, string(parley.CodeTooLarge), "the body is over 1 MiB")
		return
	}
	if err != nil {
		channel.WriteError(w, http.StatusBadRequest, string(parley.CodeInvalid), "the body could not be read")
		return
	}
	if !VerifySignature(p.AppSecret, body, r.Header.Get(SignatureHeader)) {
		in.Count(Name, "bad_signature", 1)
		p.log().WarnContext(ctx, "WhatsApp webhook with a missing or wrong signature refused", "remote", r.RemoteAddr)
		channel.WriteError(w, http.StatusUnauthorized, string(parley.CodeUnauthorized), "missing or invalid "+SignatureHeader)
		return
	}
	b, err := Parse(body)
	if err != nil {
		in.Count(Name, "malformed", 1)
		p.log().WarnContext(ctx, "signed WhatsApp webhook is not a usable notification: acknowledged and dropped", "err", err)
		writeOK(w)
		return
	}
	for _, s := range b.Skipped {
		p.log().InfoContext(ctx, "WhatsApp webhook item skipped", "phone_number_id", s.PhoneNumberID, "id", s.ID, "reason", s.Reason)
	}
	in.Count(Name, "skipped", len(b.Skipped))
	for _, e := range b.Errors {
		p.log().WarnContext(ctx, "WhatsApp reported an error for a number", "phone_number_id", e.PhoneNumberID, "code", e.Code,
			"title", e.Title, "details", e.Details)
	}
	in.Count(Name, "provider_error", len(b.Errors))

	if err := in.Ingest(ctx, Name, batches(b)); err != nil {
		p.log().ErrorContext(ctx, "storing a WhatsApp webhook failed; Meta will redeliver", "err", err)
		channel.WriteError(w, http.StatusInternalServerError, string(parley.CodeInternal), "internal error")
		return
	}
	writeOK(w)
}

func writeOK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"received"}`))
}

// batches groups a notification's items by business number, in the order
// the numbers first appear.
func batches(b *Batch) []channel.Batch {
	var out []channel.Batch
	index := map[string]int{}
	get := func(pnid string) *channel.Batch {
		i, ok := index[pnid]
		if !ok {
			i = len(out)
			index[pnid] = i
			out = append(out, channel.Batch{Route: pnid, Lookup: func(ctx context.Context, q *store.Queries) (parley.Channel, error) {
				return ownerOf(ctx, q, pnid)
			}})
		}
		return &out[i]
	}
	for _, m := range b.Messages {
		bt := get(m.PhoneNumberID)
		bt.Messages = append(bt.Messages, inbox(m))
	}
	for _, s := range b.Statuses {
		bt := get(s.PhoneNumberID)
		reason := s.ErrorTitle
		if s.ErrorDetail != "" && s.ErrorDetail != s.ErrorTitle {
			reason = strings.TrimPrefix(reason+": "+s.ErrorDetail, ": ")
		}
		bt.Statuses = append(bt.Statuses, channel.Status{
			ProviderMessageID: s.MessageID, CallbackData: s.CallbackData, Status: s.Status,
			ErrorCode: s.ErrorCode, ErrorReason: reason,
		})
	}
	return out
}

// inbox is a parsed message as the inbox keeps it. The quoted
// message and a username user's id ride along in Extra.
func inbox(m Inbound) store.InboxMessage {
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

// Owner is the channel a Cloud API number's webhooks go to: the oldest
// WhatsApp claim whose check proved its token can read the number. Being
// first to register a number proves nothing (issue 15).
func (*Provider) Owner(ctx context.Context, q *store.Queries, pnid string) (parley.Channel, error) {
	return ownerOf(ctx, q, pnid)
}

func ownerOf(ctx context.Context, q *store.Queries, pnid string) (parley.Channel, error) {
	chs, err := q.ChannelsByPhoneNumberID(ctx, pnid)
	ch, err := ownerAmong(pnid, chs, err)
	var claims *channel.Unverified
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
	return parley.Channel{}, &channel.Unverified{Claims: claims}
}

package twilio

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/store"
)

// serveTwilio takes Twilio's inbound messages and status callbacks for one
// channel (Twilio §1–§3). Order of checks: body at most 1 MiB (413), the
// channel exists and is a Twilio one (404), X-Twilio-Signature valid for
// the channel's auth_token and the public URL (401), the payload is from
// the channel's account (403); then the message or status is stored in one
// transaction and answered with empty TwiML.
//
// A correctly signed payload Parley cannot use is answered 400: Twilio does
// not redeliver inbound webhooks, and a 4xx shows up in the Twilio
// console's debugger, where the operator looks. (Meta redelivers for days,
// so the WhatsApp endpoint answers such payloads 200 instead.)
func (p *Provider) serve(in channel.Intake, w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, channel.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			in.Count(Name, "too_large", 1)
			channel.WriteError(w, http.StatusRequestEntityTooLarge, string(parley.CodeTooLarge), "the body is over 1 MiB")
			return
		}
		channel.WriteError(w, http.StatusBadRequest, string(parley.CodeInvalid), "the body is not a form")
		return
	}
	id := r.PathValue("channel_id")
	var ch parley.Channel
	var err error = parley.ErrNotFound
	if store.IsUUID(id) {
		ch, err = p.Channels.ChannelByID(ctx, id)
	}
	if err == nil && ch.Type != parley.ChannelTwilio {
		err = parley.ErrNotFound
	}
	if parley.ErrorCode(err) == parley.CodeNotFound {
		in.Count(Name, "unknown_channel", 1)
		p.log().WarnContext(ctx, "Twilio webhook for an unknown channel", "channel_id", id)
		channel.WriteError(w, http.StatusNotFound, string(parley.CodeNotFound), "no such Twilio channel")
		return
	}
	if err != nil {
		p.log().ErrorContext(ctx, "looking up a Twilio channel failed", "err", err)
		channel.WriteError(w, http.StatusInternalServerError, string(parley.CodeInternal), "internal error")
		return
	}
	log := p.log().With("tenant_id", ch.TenantID, "channel_id", ch.ID, "provider", Name)
	if !ValidateSignature(ch.Settings["auth_token"], p.signedURL(r), r.PostForm, r.Header.Get(SignatureHeader)) {
		in.Count(Name, "bad_signature", 1)
		log.WarnContext(ctx, "Twilio webhook with a missing or wrong signature refused", "remote", r.RemoteAddr, "url", p.signedURL(r))
		channel.WriteError(w, http.StatusUnauthorized, string(parley.CodeUnauthorized), "missing or invalid "+SignatureHeader)
		return
	}
	ev, err := Parse(r.PostForm)
	if err != nil {
		in.Count(Name, "malformed", 1)
		log.WarnContext(ctx, "signed Twilio webhook is not usable", "err", err)
		channel.WriteError(w, http.StatusBadRequest, string(parley.CodeInvalid), err.Error())
		return
	}
	b := channel.Batch{Route: ch.ID, Lookup: func(context.Context, *store.Queries) (parley.Channel, error) { return ch, nil }}
	account := ""
	switch ev.Kind {
	case KindInbound:
		account = ev.Inbound.AccountSID
		b.Messages = []store.InboxMessage{inbox(ev.Inbound)}
	case KindStatus:
		account = ev.Status.AccountSID
		b.Statuses = []channel.Status{{
			ProviderMessageID: ev.Status.MessageID,
			CallbackData:      r.URL.Query().Get("message_id"), // set by the sender's StatusCallback URL
			Status:            ev.Status.Status,
			ErrorCode:         ev.Status.ErrorCode,
			ErrorReason:       ev.Status.ErrorMessage,
		}}
	}
	if want := ch.Settings["account_sid"]; want != "" && account != want {
		in.Count(Name, "wrong_account", 1)
		log.WarnContext(ctx, "Twilio webhook from another account refused")
		channel.WriteError(w, http.StatusForbidden, string(parley.CodeForbidden), "the payload is not from this channel's account")
		return
	}
	if err := in.Ingest(ctx, Name, []channel.Batch{b}); err != nil {
		log.ErrorContext(ctx, "storing a Twilio webhook failed", "err", err)
		channel.WriteError(w, http.StatusInternalServerError, string(parley.CodeInternal), "internal error")
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = w.Write([]byte(EmptyTwiML))
}

// signedURL is the URL Twilio signed: PARLEY_PUBLIC_URL and the request's
// path and query when set; otherwise rebuilt from the request, with the
// scheme and host a proxy reports in X-Forwarded-Proto/-Host, else the
// connection's own scheme and the Host header. Trusting those headers is safe: they only pick
// the URL the signature is checked against, and forging a signature still
// needs the auth token.
func (p *Provider) signedURL(r *http.Request) string {
	if p.PublicURL != "" {
		return p.PublicURL + r.URL.RequestURI()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme = strings.ToLower(strings.TrimSpace(strings.Split(p, ",")[0]))
	}
	host := r.Host
	if h := r.Header.Get("X-Forwarded-Host"); h != "" {
		host = strings.TrimSpace(strings.Split(h, ",")[0])
	}
	return scheme + "://" + host + r.URL.RequestURI()
}

// inbox is a parsed Twilio message as the inbox keeps it.
func inbox(in *Inbound) store.InboxMessage {
	extra := make(map[string]any, len(in.Extra)+1)
	for k, v := range in.Extra {
		extra[k] = v
	}
	if in.ReplyToID != "" {
		extra["reply_to"] = in.ReplyToID
	}
	if len(extra) == 0 {
		extra = nil
	}
	// Twilio gives no send time: the message is dated on arrival.
	return store.InboxMessage{ProviderMessageID: in.MessageID, Sender: in.From, ContactName: in.ProfileName,
		Type: in.Type, Content: in.Content, Extra: extra}
}

package channel

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/twilio"
	"github.com/parleyhq/parley/store"
)

// serveTwilio takes Twilio's inbound messages and status callbacks for one
// channel (Twilio §1–§3, see package twilio). Order of checks: body at most 1 MiB (413), the
// channel exists and is a Twilio one (404), X-Twilio-Signature valid for
// the channel's auth_token and the public URL (401), the payload is from
// the channel's account (403); then the message or status is stored in one
// transaction and answered with empty TwiML.
//
// A correctly signed payload Parley cannot use is answered 400: Twilio does
// not redeliver inbound webhooks, and a 4xx shows up in the Twilio
// console's debugger, where the operator looks. (Meta redelivers for days,
// so the WhatsApp endpoint answers such payloads 200 instead.)
func (g *Gateway) serveTwilio(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			g.count(providerTwilio, "too_large", 1)
			writeError(w, http.StatusRequestEntityTooLarge, string(parley.CodeTooLarge), "the body is over 1 MiB")
			return
		}
		writeError(w, http.StatusBadRequest, string(parley.CodeInvalid), "the body is not a form")
		return
	}
	id := r.PathValue("channel_id")
	var ch parley.Channel
	var err error = parley.ErrNotFound
	if store.IsUUID(id) {
		ch, err = g.store.ChannelByID(ctx, id)
	}
	if err == nil && ch.Type != parley.ChannelTwilio {
		err = parley.ErrNotFound
	}
	if parley.ErrorCode(err) == parley.CodeNotFound {
		g.count(providerTwilio, "unknown_channel", 1)
		g.log.WarnContext(ctx, "Twilio webhook for an unknown channel", "channel_id", id)
		writeError(w, http.StatusNotFound, string(parley.CodeNotFound), "no such Twilio channel")
		return
	}
	if err != nil {
		g.log.ErrorContext(ctx, "looking up a Twilio channel failed", "err", err)
		writeError(w, http.StatusInternalServerError, string(parley.CodeInternal), "internal error")
		return
	}
	log := g.log.With("tenant_id", ch.TenantID, "channel_id", ch.ID, "provider", providerTwilio)
	if !twilio.ValidateSignature(ch.Settings["auth_token"], g.twilioURL(r), r.PostForm, r.Header.Get(twilio.SignatureHeader)) {
		g.count(providerTwilio, "bad_signature", 1)
		log.WarnContext(ctx, "Twilio webhook with a missing or wrong signature refused", "remote", r.RemoteAddr, "url", g.twilioURL(r))
		writeError(w, http.StatusUnauthorized, string(parley.CodeUnauthorized), "missing or invalid "+twilio.SignatureHeader)
		return
	}
	ev, err := twilio.Parse(r.PostForm)
	if err != nil {
		g.count(providerTwilio, "malformed", 1)
		log.WarnContext(ctx, "signed Twilio webhook is not usable", "err", err)
		writeError(w, http.StatusBadRequest, string(parley.CodeInvalid), err.Error())
		return
	}
	b := batch{route: ch.ID, lookup: func(context.Context, *store.Queries) (parley.Channel, error) { return ch, nil }}
	account := ""
	switch ev.Kind {
	case twilio.KindInbound:
		account = ev.Inbound.AccountSID
		b.messages = []store.InboxMessage{twilioInbox(ev.Inbound)}
	case twilio.KindStatus:
		account = ev.Status.AccountSID
		b.statuses = []statusItem{{
			ProviderMessageID: ev.Status.MessageID,
			CallbackData:      r.URL.Query().Get("message_id"), // set by the sender's StatusCallback URL
			Status:            ev.Status.Status,
			ErrorCode:         ev.Status.ErrorCode,
			ErrorReason:       ev.Status.ErrorMessage,
		}}
	}
	if want := ch.Settings["account_sid"]; want != "" && account != want {
		g.count(providerTwilio, "wrong_account", 1)
		log.WarnContext(ctx, "Twilio webhook from another account refused")
		writeError(w, http.StatusForbidden, string(parley.CodeForbidden), "the payload is not from this channel's account")
		return
	}
	if err := g.ingest(ctx, providerTwilio, []batch{b}); err != nil {
		log.ErrorContext(ctx, "storing a Twilio webhook failed", "err", err)
		writeError(w, http.StatusInternalServerError, string(parley.CodeInternal), "internal error")
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = w.Write([]byte(twilio.EmptyTwiML))
}

// maxBodyBytes is the webhook body limit, the same for both providers.
const maxBodyBytes = 1 << 20

// twilioURL is the URL Twilio signed: PARLEY_PUBLIC_URL and the request's
// path and query when set; otherwise rebuilt from the request, with the
// scheme and host a proxy reports in X-Forwarded-Proto/-Host, else the
// connection's own scheme and the Host header. Trusting those headers is safe: they only pick
// the URL the signature is checked against, and forging a signature still
// needs the auth token.
func (g *Gateway) twilioURL(r *http.Request) string {
	if g.publicURL != "" {
		return g.publicURL + r.URL.RequestURI()
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

// twilioInbox is a parsed Twilio message as the inbox keeps it.
func twilioInbox(in *twilio.Inbound) store.InboxMessage {
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

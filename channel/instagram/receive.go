package instagram

import (
	"context"
	"errors"
	"net/http"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/store"
)

// serveVerify answers Meta's subscription handshake (§1), as for WhatsApp.
func (p *Provider) serveVerify(w http.ResponseWriter, r *http.Request) {
	challenge, ok := VerifyChallenge(r.URL.Query(), p.VerifyToken)
	if !ok {
		p.log().WarnContext(r.Context(), "Instagram webhook verification refused", "mode", r.URL.Query().Get("hub.mode"))
		channel.WriteError(w, http.StatusForbidden, string(parley.CodeForbidden), "verification token mismatch")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(challenge))
}

// serve takes a notification (§2): body at most 1 MiB (413), signature
// checked on the raw bytes first (401, nothing stored), then stored in one
// transaction and 200. A signed body Parley cannot use is answered 200 and
// counted "malformed", so Meta does not redeliver it; a database failure is
// 500, so Meta does.
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
		p.log().WarnContext(ctx, "Instagram webhook with a missing or wrong signature refused", "remote", r.RemoteAddr)
		channel.WriteError(w, http.StatusUnauthorized, string(parley.CodeUnauthorized), "missing or invalid "+SignatureHeader)
		return
	}
	b, err := Parse(body)
	if err != nil {
		in.Count(Name, "malformed", 1)
		p.log().WarnContext(ctx, "signed Instagram webhook is not a usable notification: acknowledged and dropped", "err", err)
		writeOK(w)
		return
	}
	for _, s := range b.Skipped {
		p.log().InfoContext(ctx, "Instagram webhook item skipped", "account_id", s.AccountID, "id", s.ID, "reason", s.Reason)
	}
	in.Count(Name, "skipped", len(b.Skipped))
	// Echoes are the business's own messages (ours, or sent from the
	// Instagram app): never taken in as the customer's, never answered.
	in.Count(Name, "echo", len(b.Echoes))
	if err := in.Ingest(ctx, Name, batches(b)); err != nil {
		p.log().ErrorContext(ctx, "storing an Instagram webhook failed; Meta will redeliver", "err", err)
		channel.WriteError(w, http.StatusInternalServerError, string(parley.CodeInternal), "internal error")
		return
	}
	writeOK(w)
}

func writeOK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"received"}`))
}

// batches groups a notification's items by business account, in the
// order the accounts first appear. Reads become read statuses of the
// message they name; deletions mark the customer's message.
func batches(b *Batch) []channel.Batch {
	var out []channel.Batch
	index := map[string]int{}
	get := func(account string) *channel.Batch {
		i, ok := index[account]
		if !ok {
			i = len(out)
			index[account] = i
			out = append(out, channel.Batch{Route: account, Lookup: func(ctx context.Context, q *store.Queries) (parley.Channel, error) {
				return ownerOf(ctx, q, account)
			}})
		}
		return &out[i]
	}
	for _, m := range b.Messages {
		bt := get(m.AccountID)
		extra := make(map[string]any, len(m.Extra)+1)
		for k, v := range m.Extra {
			extra[k] = v
		}
		if m.ReplyToID != "" {
			extra["reply_to"] = m.ReplyToID
		}
		if len(extra) == 0 {
			extra = nil
		}
		bt.Messages = append(bt.Messages, store.InboxMessage{
			ProviderMessageID: m.MessageID, Sender: m.SenderID, Type: m.Type, Content: m.Content, Extra: extra, SentAt: m.Timestamp,
		})
	}
	for _, r := range b.Reads {
		bt := get(r.AccountID)
		bt.Statuses = append(bt.Statuses, channel.Status{ProviderMessageID: r.MessageID, Status: parley.StatusRead, UpTo: true})
	}
	for _, d := range b.Deleted {
		bt := get(d.AccountID)
		bt.Deleted = append(bt.Deleted, d.MessageID)
	}
	return out
}

// Owner is the channel an account's webhooks go to: the oldest Instagram
// claim whose check proved its token speaks for the account.
func (*Provider) Owner(ctx context.Context, q *store.Queries, account string) (parley.Channel, error) {
	return ownerOf(ctx, q, account)
}

func ownerOf(ctx context.Context, q *store.Queries, account string) (parley.Channel, error) {
	chs, err := q.ChannelsByPhoneNumberID(ctx, account)
	ch, err := ownerAmong(account, chs, err)
	var claims *channel.Unverified
	if errors.As(err, &claims) {
		// Read the claims again, locked, so a check being recorded right
		// now either is seen or sees what we hold (as for WhatsApp).
		chs, err := q.LockChannelsByPhoneNumberID(ctx, account)
		return ownerAmong(account, chs, err)
	}
	return ch, err
}

func ownerAmong(account string, chs []parley.Channel, err error) (parley.Channel, error) {
	if err != nil {
		return parley.Channel{}, err
	}
	var claims []parley.Channel
	for _, ch := range chs {
		if ch.Type != parley.ChannelInstagram {
			continue
		}
		if ch.Verified() {
			return ch, nil
		}
		claims = append(claims, ch)
	}
	if len(claims) == 0 {
		return parley.Channel{}, parley.Errorf(parley.CodeNotFound, "no Instagram channel with account id %s", account)
	}
	return parley.Channel{}, &channel.Unverified{Claims: claims}
}

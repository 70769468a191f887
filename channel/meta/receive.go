package meta

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/store"
)

// Receiver is the receiving half every Meta channel shares: the
// subscription handshake, the body limit, the signature check and the
// answers Meta acts on. The channel brings the parsing.
type Receiver struct {
	Name        string // the provider's name in counts: "whatsapp"
	Title       string // its name in logs: "WhatsApp"
	RouteKey    string // names Skip.Route in logs: "phone_number_id"
	AppSecret   string // signs the webhooks (X-Hub-Signature-256)
	VerifyToken string // the handshake's hub.verify_token
	Log         *slog.Logger
}

// Parser turns a signed webhook body into the batches to store and the
// items it skipped; an error means the body is not a usable notification
// (acknowledged and dropped).
type Parser func(ctx context.Context, body []byte) ([]channel.Batch, []Skip, error)

// Skip is an item of a notification the channel does not store, and why:
// logged and counted "skipped".
type Skip struct {
	Route  string // the item's routing key, when known
	ID     string // the message or status id, when known
	Reason string
}

// Mount adds GET (the handshake) and POST (notifications)
// /webhooks/{Name}, with the secrets rc holds when mounted.
func (rc Receiver) Mount(m channel.Mux, in channel.Intake, parse Parser) {
	m.Handle("GET /webhooks/"+rc.Name, http.HandlerFunc(rc.ServeVerify))
	m.Handle("POST /webhooks/"+rc.Name, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rc.Serve(in, w, r, parse) }))
}

// ServeVerify answers Meta's subscription handshake: 200 with the
// challenge as text, or 403.
func (rc Receiver) ServeVerify(w http.ResponseWriter, r *http.Request) {
	challenge, ok := VerifyChallenge(r.URL.Query(), rc.VerifyToken)
	if !ok {
		rc.log().WarnContext(r.Context(), rc.Title+" webhook verification refused", "mode", r.URL.Query().Get("hub.mode"))
		channel.WriteError(w, http.StatusForbidden, string(parley.CodeForbidden), "verification token mismatch")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(challenge))
}

// Serve takes a notification: body at most 1 MiB (413), signature checked
// on the raw bytes before anything else (401, nothing stored), then parse's
// batches stored in one transaction and 200.
//
// A signed body parse cannot use (its error) is answered 200 and counted
// "malformed": it can only come from Meta, and any other answer makes Meta
// redeliver the same useless payload for days. A database failure is 500,
// so Meta does redeliver and nothing is lost.
func (rc Receiver) Serve(in channel.Intake, w http.ResponseWriter, r *http.Request, parse Parser) {
	ctx := r.Context()
	body, err := ReadBody(r.Body)
	if errors.Is(err, ErrBodyTooLarge) {
		in.Count(rc.Name, "too_large", 1)
		channel.WriteError(w, http.StatusRequestEntityTooLarge, string(parley.CodeTooLarge), "the body is over 1 MiB")
		return
	}
	if err != nil {
		channel.WriteError(w, http.StatusBadRequest, string(parley.CodeInvalid), "the body could not be read")
		return
	}
	if !VerifySignature(rc.AppSecret, body, r.Header.Get(SignatureHeader)) {
		in.Count(rc.Name, "bad_signature", 1)
		rc.log().WarnContext(ctx, rc.Title+" webhook with a missing or wrong signature refused", "remote", r.RemoteAddr)
		channel.WriteError(w, http.StatusUnauthorized, string(parley.CodeUnauthorized), "missing or invalid "+SignatureHeader)
		return
	}
	batches, skipped, err := parse(ctx, body)
	if err != nil {
		in.Count(rc.Name, "malformed", 1)
		rc.log().WarnContext(ctx, "signed "+rc.Title+" webhook is not a usable notification: acknowledged and dropped", "err", err)
		writeOK(w)
		return
	}
	for _, s := range skipped {
		rc.log().InfoContext(ctx, rc.Title+" webhook item skipped", rc.RouteKey, s.Route, "id", s.ID, "reason", s.Reason)
	}
	in.Count(rc.Name, "skipped", len(skipped))
	if err := in.Ingest(ctx, rc.Name, batches); err != nil {
		rc.log().ErrorContext(ctx, "storing a "+rc.Title+" webhook failed; Meta will redeliver", "err", err)
		channel.WriteError(w, http.StatusInternalServerError, string(parley.CodeInternal), "internal error")
		return
	}
	writeOK(w)
}

func (rc Receiver) log() *slog.Logger {
	if rc.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return rc.Log
}

func writeOK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"received"}`))
}

// Grouper groups a notification's items into channel.Batches by their
// routing key (a phone_number_id, an account id), in the order the keys
// first appear; each batch finds its channel with Owners.
type Grouper struct {
	Owners Owners
	out    []channel.Batch
	index  map[string]int
}

// Batch is key's batch, added at the end when new.
func (g *Grouper) Batch(key string) *channel.Batch {
	i, ok := g.index[key]
	if !ok {
		if g.index == nil {
			g.index = map[string]int{}
		}
		i = len(g.out)
		g.index[key] = i
		owners := g.Owners
		g.out = append(g.out, channel.Batch{Route: key, Lookup: func(ctx context.Context, q *store.Queries) (parley.Channel, error) {
			return owners.Owner(ctx, q, key)
		}})
	}
	return &g.out[i]
}

// Batches returns the batches made so far.
func (g *Grouper) Batches() []channel.Batch { return g.out }

// Owners says which channel of one type a routing key's webhooks go to:
// the oldest claim whose ownership check proved its token speaks for the
// key. Being first to register a key proves nothing (issue 15).
type Owners struct {
	Type  parley.ChannelType
	Title string // the type in the not-found error: "WhatsApp"
	Key   string // the key in the not-found error: "phone_number_id"
}

// Owner finds the channel, or a *channel.Unverified naming the claims
// when none has passed its check, or a not-found *parley.Error.
func (o Owners) Owner(ctx context.Context, q *store.Queries, key string) (parley.Channel, error) {
	chs, err := q.ChannelsByPhoneNumberID(ctx, key)
	ch, err := o.among(key, chs, err)
	var claims *channel.Unverified
	if errors.As(err, &claims) {
		// About to hold the messages: read the claims again, locked, so an
		// ownership check being recorded right now either is seen (and the
		// messages go to its channel) or sees what we hold and releases it.
		chs, err := q.LockChannelsByPhoneNumberID(ctx, key)
		return o.among(key, chs, err)
	}
	return ch, err
}

func (o Owners) among(key string, chs []parley.Channel, err error) (parley.Channel, error) {
	if err != nil {
		return parley.Channel{}, err
	}
	var claims []parley.Channel
	for _, ch := range chs {
		if ch.Type != o.Type {
			continue
		}
		if ch.Verified() {
			return ch, nil
		}
		claims = append(claims, ch)
	}
	if len(claims) == 0 {
		return parley.Channel{}, parley.Errorf(parley.CodeNotFound, "no %s channel with %s %s", o.Title, o.Key, key)
	}
	return parley.Channel{}, &channel.Unverified{Claims: claims}
}

// Extra is a message's Extra with the pairs (key, value, key, value…)
// whose value is not empty added; nil when the result is empty, as the
// inbox stores it. base is not changed.
func Extra(base map[string]any, pairs ...string) map[string]any {
	extra := make(map[string]any, len(base)+len(pairs)/2)
	for k, v := range base {
		extra[k] = v
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			extra[pairs[i]] = pairs[i+1]
		}
	}
	if len(extra) == 0 {
		return nil
	}
	return extra
}

package channel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/event"
	"github.com/parleyhq/parley/store"
)

// Batch is what one webhook brought for one channel: new messages and
// statuses, in the order they came. A provider's webhook handler parses its
// payload into batches and hands them to the Intake.
type Batch struct {
	// Route is how the channel is named on the wire (a phone_number_id, a
	// channel id), for logs.
	Route string
	// Lookup finds the channel in the webhook's transaction. It returns a
	// *parley.Error with CodeNotFound when no channel has the route, and an
	// *Unverified when channels claim it but none has proven it owns it:
	// their messages are then held until one does.
	Lookup   func(ctx context.Context, q *store.Queries) (parley.Channel, error)
	Messages []store.InboxMessage // TenantID and ChannelID are filled on ingest
	Statuses []Status
	// Deleted are provider ids of messages the contact unsent (Instagram):
	// each is marked deleted (Extra["deleted"]) and logged, never removed.
	Deleted []string
}

// Status is a provider's delivery receipt in neutral form.
type Status struct {
	ProviderMessageID string
	// CallbackData is what we asked the provider to echo (our message id),
	// so a status that overtakes the send's commit still finds its message.
	CallbackData string
	Status       parley.DeliveryStatus
	ErrorCode    string
	ErrorReason  string
	// UpTo: a read receipt for this message and every earlier one of the
	// conversation (Instagram's "read up to"), not this message alone.
	UpTo bool
}

// Unverified is a Lookup's answer for a route that channels claim but none
// has proven to own yet: its messages are held, and a status goes to
// whichever claim sent the message it names.
type Unverified struct{ Claims []parley.Channel }

func (u *Unverified) Error() string { return "no claim on this number has passed its ownership check" }

// tally counts outcomes until the transaction commits.
type tally map[string]int

// inboxRow is a message of one webhook request on its way into the inbox:
// the group's messages go in with one multi-row INSERT.
type inboxRow struct {
	req *commitReq
	log *slog.Logger
	m   store.InboxMessage
}

// ingestGroup stores the requests of one group commit in q's transaction:
// new messages into the inbox (one multi-row insert, deduplicated by
// provider message id), statuses onto their messages. A channel the lookup
// does not find is skipped (and counted): the provider is told 200 so it
// stops retrying. Any database error fails the whole group (see commitGroup).
func (g *Gateway) ingestGroup(ctx context.Context, q *store.Queries, reqs []*commitReq) error {
	var rows []inboxRow
	// A group's requests mostly name the same few numbers: each is looked
	// up once per group.
	owners := map[string]parley.Channel{}
	for _, r := range reqs {
		clear(r.t)
		for _, b := range r.batches {
			if err := g.ingestBatch(ctx, q, r, b, owners, &rows); err != nil {
				return err
			}
		}
	}
	if len(rows) == 0 {
		return nil
	}
	ms := make([]store.InboxMessage, len(rows))
	for i, row := range rows {
		ms[i] = row.m
	}
	_, inserted, err := q.InsertInboxMany(ctx, ms)
	if err != nil {
		return err
	}
	for i, row := range rows {
		if !inserted[i] {
			row.log.InfoContext(ctx, "duplicate delivery ignored", "provider_message_id", row.m.ProviderMessageID)
			row.req.t["duplicate"]++
			continue
		}
		row.req.t["stored"]++
	}
	return nil
}

func (g *Gateway) ingestBatch(ctx context.Context, q *store.Queries, r *commitReq, b Batch, owners map[string]parley.Channel, rows *[]inboxRow) error {
	provider, t := r.provider, r.t
	key := provider + "\x00" + b.Route
	ch, ok := owners[key]
	var err error
	if !ok {
		if ch, err = b.Lookup(ctx, q); err == nil {
			owners[key] = ch
		}
	}
	if parley.ErrorCode(err) == parley.CodeNotFound {
		g.log.WarnContext(ctx, "webhook for an unknown channel: acknowledged and dropped", "provider", provider, "route", b.Route,
			"messages", len(b.Messages), "statuses", len(b.Statuses))
		t["unknown_number"] += len(b.Messages) + len(b.Statuses)
		return nil
	}
	var claims *Unverified
	if errors.As(err, &claims) {
		return g.holdBatch(ctx, q, provider, b, claims.Claims, t)
	}
	if err != nil {
		return err
	}
	log := g.log.With("tenant_id", ch.TenantID, "channel_id", ch.ID, "provider", provider)

	now := g.store.Clock().Now()
	for _, m := range b.Messages {
		m.TenantID, m.ChannelID = ch.TenantID, ch.ID
		m = sanitize(m, now)
		if m.ProviderMessageID == "" { // nothing left to dedupe it by
			t["skipped"]++
			continue
		}
		*rows = append(*rows, inboxRow{req: r, log: log, m: m})
	}
	for _, st := range b.Statuses {
		outcome, err := g.applyStatus(ctx, q, ch, st)
		if err != nil {
			return err
		}
		if outcome == "status_unknown_message" {
			log.InfoContext(ctx, "status for a message Parley did not send", "provider_message_id", st.ProviderMessageID, "status", st.Status)
		}
		t[outcome]++
	}
	for _, id := range b.Deleted {
		outcome, err := g.applyDeletion(ctx, q, ch, id)
		if err != nil {
			return err
		}
		t[outcome]++
	}
	return nil
}

// applyDeletion marks the contact's message id as unsent: the message stays
// (the AI may already have answered it) with Extra["deleted"] and a Message
// Deleted event in its conversation.
func (g *Gateway) applyDeletion(ctx context.Context, q *store.Queries, ch parley.Channel, providerID string) (string, error) {
	m, err := q.MessageByChannelID(ctx, ch.ID, providerID)
	if parley.ErrorCode(err) == parley.CodeNotFound {
		return "deleted_unknown_message", nil
	}
	if err != nil {
		return "", err
	}
	if m.TenantID != ch.TenantID || m.Role != parley.RoleCustomer {
		return "deleted_unknown_message", nil
	}
	if deleted, _ := m.Extra["deleted"].(bool); deleted {
		return "duplicate", nil
	}
	extra := make(map[string]any, len(m.Extra)+1)
	for k, v := range m.Extra {
		extra[k] = v
	}
	extra["deleted"] = true
	if err := q.SetMessageExtra(ctx, m.TenantID, m.ID, extra); err != nil {
		return "", err
	}
	if err := q.AppendEvent(ctx, m.TenantID, m.ConversationID, event.MessageDeleted, event.MessageStatusPayload{
		MessageID: m.ID, ChannelID: ch.ID, ChannelMessageID: providerID}); err != nil {
		return "", err
	}
	return "message_deleted", nil
}

// applyStatus moves the message a status names forward (never back: they
// arrive out of order) and logs the change in its conversation.
func (g *Gateway) applyStatus(ctx context.Context, q *store.Queries, ch parley.Channel, st Status) (string, error) {
	m, err := q.MessageByChannelID(ctx, ch.ID, st.ProviderMessageID)
	if parley.ErrorCode(err) == parley.CodeNotFound && store.IsUUID(st.CallbackData) {
		m, err = q.GetMessage(ctx, ch.TenantID, st.CallbackData)
		if err == nil && m.ChannelID != ch.ID {
			return "status_unknown_message", nil
		}
	}
	if parley.ErrorCode(err) == parley.CodeNotFound {
		return "status_unknown_message", nil
	}
	if err != nil {
		return "", err
	}
	if m.TenantID != ch.TenantID || m.Role == parley.RoleCustomer {
		return "status_unknown_message", nil
	}
	u := store.MessageUpdate{Status: st.Status, ErrorCode: st.ErrorCode, ErrorReason: st.ErrorReason}
	if m.ChannelMessageID == "" { // found by our id: the status brings the provider's
		u.ChannelMessageID = st.ProviderMessageID
	}
	changed, err := q.AdvanceMessageDelivery(ctx, m.TenantID, m.ID, u)
	if err != nil {
		return "", err
	}
	if st.UpTo && st.Status == parley.StatusRead {
		if err := g.readEarlier(ctx, q, ch, m); err != nil {
			return "", err
		}
	}
	if !changed {
		return "status_stale", nil
	}
	payload := event.MessageStatusPayload{MessageID: m.ID, ChannelID: ch.ID, ChannelMessageID: st.ProviderMessageID, Status: st.Status}
	name := event.MessageStatusChanged
	if st.Status == parley.StatusFailed {
		name = event.MessageSendFailed
		payload.ErrorCode, payload.ErrorReason, payload.Source = st.ErrorCode, st.ErrorReason, "provider_status"
	}
	if err := q.AppendEvent(ctx, m.TenantID, m.ConversationID, name, payload); err != nil {
		return "", err
	}
	return "status_applied", nil
}

// readEarlier applies "read up to m": the conversation's earlier sent or
// delivered messages are read too, each logged like a receipt of its own.
func (g *Gateway) readEarlier(ctx context.Context, q *store.Queries, ch parley.Channel, m parley.Message) error {
	earlier, err := q.UnreadBefore(ctx, m.TenantID, m.ConversationID, m.ID)
	if err != nil {
		return err
	}
	for _, e := range earlier {
		changed, err := q.AdvanceMessageDelivery(ctx, e.TenantID, e.ID, store.MessageUpdate{Status: parley.StatusRead})
		if err != nil {
			return err
		}
		if !changed {
			continue
		}
		if err := q.AppendEvent(ctx, e.TenantID, e.ConversationID, event.MessageStatusChanged, event.MessageStatusPayload{
			MessageID: e.ID, ChannelID: ch.ID, ChannelMessageID: e.ChannelMessageID, Status: parley.StatusRead}); err != nil {
			return err
		}
	}
	return nil
}

// sanitize makes a message storable on both engines, whatever a signed but
// odd payload holds: PostgreSQL's text refuses NUL and invalid UTF-8, and a
// timestamp in the future would stretch the 24-hour window.
func sanitize(m store.InboxMessage, now time.Time) store.InboxMessage {
	m.ProviderMessageID = clean(m.ProviderMessageID)
	m.Sender = clean(m.Sender)
	m.ContactName = clean(m.ContactName)
	m.Type = parley.MessageType(clean(string(m.Type)))
	m.Content = clean(m.Content)
	if m.SentAt.IsZero() || m.SentAt.After(now) {
		m.SentAt = now
	}
	if m.Extra != nil {
		// JSON escapes NUL; only invalid UTF-8 needs mending.
		b, err := json.Marshal(m.Extra)
		if err != nil {
			m.Extra = map[string]any{"unencodable": err.Error()}
		} else if !utf8.Valid(b) {
			var mended map[string]any
			if json.Unmarshal(bytes.ToValidUTF8(b, []byte("\uFFFD")), &mended) == nil {
				m.Extra = mended
			}
		}
	}
	return m
}

func clean(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

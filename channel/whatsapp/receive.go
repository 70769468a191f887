package whatsapp

import (
	"context"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/meta"
	"github.com/parleyhq/parley/store"
)

// owners routes Cloud API webhooks by phone_number_id.
var owners = meta.Owners{Type: parley.ChannelWhatsApp, Title: "WhatsApp", Key: "phone_number_id"}

// parser reads a Cloud API notification (Cloud API §2) for meta.Receiver,
// logging and counting the errors Meta reports. A signed
// body it cannot use is answered 200, since any other answer makes Meta
// redeliver it for up to 7 days (Cloud API §2.3).
func (p *Provider) parser(in channel.Intake) meta.Parser {
	return func(ctx context.Context, body []byte) ([]channel.Batch, []meta.Skip, error) {
		b, err := Parse(body)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range b.Errors {
			p.log().WarnContext(ctx, "WhatsApp reported an error for a number", "phone_number_id", e.PhoneNumberID, "code", e.Code,
				"title", e.Title, "details", e.Details)
		}
		in.Count(Name, "provider_error", len(b.Errors))
		skipped := make([]meta.Skip, len(b.Skipped))
		for i, s := range b.Skipped {
			skipped[i] = meta.Skip{Route: s.PhoneNumberID, ID: s.ID, Reason: s.Reason}
		}
		return batches(b), skipped, nil
	}
}

// batches groups a notification's items by business number, in the order
// the numbers first appear.
func batches(b *Batch) []channel.Batch {
	g := meta.Grouper{Owners: owners}
	for _, m := range b.Messages {
		bt := g.Batch(m.PhoneNumberID)
		bt.Messages = append(bt.Messages, inbox(m))
	}
	for _, s := range b.Statuses {
		bt := g.Batch(s.PhoneNumberID)
		reason := s.ErrorTitle
		if s.ErrorDetail != "" && s.ErrorDetail != s.ErrorTitle {
			reason = strings.TrimPrefix(reason+": "+s.ErrorDetail, ": ")
		}
		bt.Statuses = append(bt.Statuses, channel.Status{
			ProviderMessageID: s.MessageID, CallbackData: s.CallbackData, Status: s.Status,
			ErrorCode: s.ErrorCode, ErrorReason: reason,
		})
	}
	return g.Batches()
}

// inbox is a parsed message as the inbox keeps it. The quoted
// message and a username user's id ride along in Extra.
func inbox(m Inbound) store.InboxMessage {
	return store.InboxMessage{
		ProviderMessageID: m.MessageID, Sender: m.From, ContactName: m.ContactName,
		Type: m.Type, Content: m.Content, Extra: meta.Extra(m.Extra, "reply_to", m.ReplyToID, "user_id", m.UserID), SentAt: m.Timestamp,
	}
}

// Owner is the channel a Cloud API number's webhooks go to: the oldest
// WhatsApp claim whose check proved its token can read the number. Being
// first to register a number proves nothing (issue 15).
func (*Provider) Owner(ctx context.Context, q *store.Queries, pnid string) (parley.Channel, error) {
	return owners.Owner(ctx, q, pnid)
}

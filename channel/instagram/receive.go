package instagram

import (
	"context"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/meta"
	"github.com/parleyhq/parley/store"
)

// owners routes Instagram webhooks by the business account id.
var owners = meta.Owners{Type: parley.ChannelInstagram, Title: "Instagram", Key: "account id"}

// parser reads a notification (§2) for meta.Receiver, counting the echoes
// of the business's own messages.
func (p *Provider) parser(in channel.Intake) meta.Parser {
	return func(ctx context.Context, body []byte) ([]channel.Batch, []meta.Skip, error) {
		b, err := Parse(body)
		if err != nil {
			return nil, nil, err
		}
		// Echoes are the business's own messages (ours, or sent from the
		// Instagram app): never taken in as the customer's, never answered.
		in.Count(Name, "echo", len(b.Echoes))
		skipped := make([]meta.Skip, len(b.Skipped))
		for i, s := range b.Skipped {
			skipped[i] = meta.Skip{Route: s.AccountID, ID: s.ID, Reason: s.Reason}
		}
		return batches(b), skipped, nil
	}
}

// batches groups a notification's items by business account, in the
// order the accounts first appear. Reads become read statuses of the
// message they name; deletions mark the customer's message.
func batches(b *Batch) []channel.Batch {
	g := meta.Grouper{Owners: owners}
	for _, m := range b.Messages {
		bt := g.Batch(m.AccountID)
		bt.Messages = append(bt.Messages, store.InboxMessage{
			ProviderMessageID: m.MessageID, Sender: m.SenderID, Type: m.Type, Content: m.Content,
			Extra: meta.Extra(m.Extra, "reply_to", m.ReplyToID), SentAt: m.Timestamp,
		})
	}
	for _, r := range b.Reads {
		bt := g.Batch(r.AccountID)
		bt.Statuses = append(bt.Statuses, channel.Status{ProviderMessageID: r.MessageID, Status: parley.StatusRead, UpTo: true})
	}
	for _, d := range b.Deleted {
		bt := g.Batch(d.AccountID)
		bt.Deleted = append(bt.Deleted, d.MessageID)
	}
	return g.Batches()
}

// Owner is the channel an account's webhooks go to: the oldest Instagram
// claim whose check proved its token speaks for the account.
func (*Provider) Owner(ctx context.Context, q *store.Queries, account string) (parley.Channel, error) {
	return owners.Owner(ctx, q, account)
}

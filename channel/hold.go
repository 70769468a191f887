package channel

import (
	"context"
	"errors"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// holdBatch keeps the messages of a number no claim has proven to own,
// routed to nobody, until one does (Release). Statuses can only be about
// messages a claim sent itself (a wamid is unique), so each goes to the
// claim that has the message, if any.
func (g *Gateway) holdBatch(ctx context.Context, q *store.Queries, provider string, b Batch, claims []parley.Channel, t tally) error {
	now := g.store.Clock().Now()
	held := 0
	for _, m := range b.Messages {
		m = sanitize(m, now)
		if m.ProviderMessageID == "" {
			t["skipped"]++
			continue
		}
		inserted, err := q.HoldInbox(ctx, b.Route, m)
		if err != nil {
			return err
		}
		if !inserted {
			t["duplicate"]++
			continue
		}
		held++
	}
	if held > 0 {
		t["held_unverified"] += held
		g.log.WarnContext(ctx, "messages held: no channel for this WhatsApp number has passed its ownership check", "provider", provider,
			"phone_number_id", b.Route, "messages", held, "claims", len(claims))
	}
	for _, st := range b.Statuses {
		outcome := "status_unknown_message"
		for _, ch := range claims {
			var err error
			if outcome, err = g.applyStatus(ctx, q, ch, st); err != nil {
				return err
			}
			if outcome != "status_unknown_message" {
				break
			}
		}
		t[outcome]++
	}
	return nil
}

// Release moves the messages held for ch's number into ch's inbox, in the
// caller's transaction: the one that records ch's successful ownership
// check. The receive stage takes them in after that commit. It returns how
// many moved.
func (g *Gateway) Release(ctx context.Context, q *store.Queries, ch parley.Channel) (int, error) {
	if (ch.Type != parley.ChannelWhatsApp && ch.Type != parley.ChannelInstagram) || !ch.Verified() || ch.PhoneNumberID == "" {
		return 0, nil
	}
	held, err := q.TakeHeld(ctx, ch.PhoneNumberID)
	if err != nil || len(held) == 0 {
		return 0, err
	}
	for i := range held {
		held[i].TenantID, held[i].ChannelID = ch.TenantID, ch.ID
	}
	_, inserted, err := q.InsertInboxMany(ctx, held)
	if err != nil {
		return 0, err
	}
	fresh := 0
	for _, ok := range inserted {
		if ok {
			fresh++
		}
	}
	if fresh == 0 {
		return 0, nil
	}
	q.AfterCommit(ctx, func(context.Context) { g.receiving.Wake() })
	g.log.InfoContext(ctx, "held messages released to the channel that proved it owns the number", "tenant_id", ch.TenantID,
		"channel_id", ch.ID, "messages", fresh)
	return fresh, nil
}

// releaseVerified hands held messages to numbers that now have a verified
// claim. Release normally does this when the check passes; a webhook whose
// transaction raced that check's may still have held a message since.
func (g *Gateway) releaseVerified(ctx context.Context) (int, error) {
	numbers, err := g.store.HeldNumbers(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, pnid := range numbers {
		err := g.store.InTx(ctx, func(q *store.Queries) error {
			ch, err := g.owner(ctx, q, pnid)
			var claims *Unverified
			if errors.As(err, &claims) || parley.ErrorCode(err) == parley.CodeNotFound {
				return nil // nobody proven yet: keep waiting
			}
			if err != nil {
				return err
			}
			n, err := g.Release(ctx, q, ch)
			total += n
			return err
		})
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// owner asks the providers whose routes are claimed who owns route.
func (g *Gateway) owner(ctx context.Context, q *store.Queries, route string) (parley.Channel, error) {
	var err error = parley.Errorf(parley.CodeNotFound, "no channel claims %s", route)
	for _, p := range g.providers {
		o, ok := p.(Owners)
		if !ok {
			continue
		}
		ch, oerr := o.Owner(ctx, q, route)
		if oerr == nil {
			return ch, nil
		}
		if parley.ErrorCode(oerr) != parley.CodeNotFound {
			err = oerr
		}
	}
	return parley.Channel{}, err
}

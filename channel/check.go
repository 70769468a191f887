// Channel checks keep a tenant's channels honest: when a WhatsApp channel
// is saved, a durable job asks Meta's Graph API for the number behind its
// phone_number_id, proving the access token works and recording the display
// number and verified business name. An Instagram channel is checked the
// same way (Checker.Others): its account is read with its token, and the
// @username and name recorded.

package channel

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/jobs"
	"github.com/parleyhq/parley/store"
)

// CheckChannelArgs is the job that checks one channel's credentials.
type CheckChannelArgs struct {
	TenantID  string `json:"tenant_id"`
	ChannelID string `json:"channel_id"`
}

// Kind is the job's stable name.
func (CheckChannelArgs) Kind() string { return "check_channel" }

// InsertOpts: every save gets a check of its own. Jobs are not deduplicated:
// River counts a job as running until its completion is flushed, so a save
// right after a check finished would be taken for a duplicate and its new
// token never checked (and the number never routed).
func (CheckChannelArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10}
}

// PhoneNumbers looks a business number up at the provider.
type PhoneNumbers interface {
	GetPhoneNumber(ctx context.Context, token, phoneNumberID string) (display, verifiedName string, err error)
}

// Checker enqueues and works channel checks.
type Checker struct {
	river.WorkerDefaults[CheckChannelArgs]
	Store  *store.Store
	Jobs   *jobs.Inserter
	Lookup PhoneNumbers
	// Retryable tells a passing provider failure (retry later) from a
	// refusal such as a revoked token (record it, do not retry).
	Retryable func(error) bool
	// Verified, when set, runs in the transaction that records a passed
	// check: the gateway hands the channel the messages held for its number.
	Verified func(ctx context.Context, q *store.Queries, ch parley.Channel) (int, error)
	Log      *slog.Logger
	// Others are the checks of channel types other than WhatsApp that
	// prove ownership the same way (Instagram: the account read with the
	// channel's token). Lookup and Retryable above are WhatsApp's.
	Others map[parley.ChannelType]Check
}

// Check is one channel type's ownership check: the look-up, and which of
// its failures are worth retrying.
type Check struct {
	Lookup    PhoneNumbers
	Retryable func(error) bool
}

// check is the ownership check of channels of type t, if they have one.
func (c *Checker) check(t parley.ChannelType) (Check, bool) {
	if t == parley.ChannelWhatsApp {
		return Check{Lookup: c.Lookup, Retryable: c.Retryable}, true
	}
	k, ok := c.Others[t]
	return k, ok
}

// Saved is called in the transaction that saved a channel; for WhatsApp
// and Instagram channels it enqueues the check in that same transaction.
func (c *Checker) Saved(ctx context.Context, q *store.Queries, ch parley.Channel) error {
	if _, ok := c.check(ch.Type); !ok {
		return nil
	}
	return c.Jobs.InsertTx(ctx, q.Tx(), CheckChannelArgs{TenantID: ch.TenantID, ChannelID: ch.ID}, nil)
}

// Work asks the provider and records what it says. A channel deleted in the
// meantime ends the job; a rejected token is recorded, not retried.
func (c *Checker) Work(ctx context.Context, job *river.Job[CheckChannelArgs]) error {
	log := c.Log.With("tenant_id", job.Args.TenantID, "channel_id", job.Args.ChannelID, "job_id", job.ID)
	ch, err := c.Store.GetChannel(ctx, job.Args.TenantID, job.Args.ChannelID)
	if parley.ErrorCode(err) == parley.CodeNotFound {
		log.InfoContext(ctx, "channel gone before its check ran")
		return nil
	}
	if err != nil {
		return err
	}
	k, ok := c.check(ch.Type)
	if !ok || ch.PhoneNumberID == "" {
		return nil
	}
	display, name, err := k.Lookup.GetPhoneNumber(ctx, ch.AccessToken, ch.PhoneNumberID)
	if ch.Settings == nil {
		ch.Settings = map[string]string{}
	}
	switch {
	case err == nil:
		ch.DisplayNumber = display
		ch.Settings[parley.SettingVerified] = name
		ch.Settings[parley.SettingCheck] = parley.CheckOK
		delete(ch.Settings, parley.SettingCheckError)
	case k.Retryable(err):
		return err // River retries with backoff
	default:
		ch.Settings[parley.SettingCheck] = parley.CheckFailed
		ch.Settings[parley.SettingCheckError] = err.Error()
	}
	ch.Settings[parley.SettingCheckedAt] = c.Store.Clock().Now().Format(time.RFC3339)
	released := 0
	stale := false
	uerr := c.Store.InTx(ctx, func(q *store.Queries) error {
		// The tenant may have changed the number or the token while the
		// provider answered: that answer proves nothing about the new pair
		// (the save enqueued a check of its own).
		now, gerr := q.LockChannel(ctx, ch.TenantID, ch.ID)
		if gerr != nil {
			return gerr
		}
		if now.PhoneNumberID != ch.PhoneNumberID || now.AccessToken != ch.AccessToken {
			stale = true
			return nil
		}
		// Write the check's result onto the row as it is now, not as it was
		// read before the provider answered: an edit made meanwhile (the
		// channel switched off, test senders changed) stays.
		if now.Settings == nil {
			now.Settings = map[string]string{}
		}
		for _, k := range []string{parley.SettingCheck, parley.SettingCheckError, parley.SettingCheckedAt, parley.SettingVerified} {
			if v, ok := ch.Settings[k]; ok {
				now.Settings[k] = v
			} else {
				delete(now.Settings, k)
			}
		}
		now.DisplayNumber = ch.DisplayNumber
		ch = now
		if uerr := q.UpdateChannel(ctx, ch); uerr != nil {
			return uerr
		}
		if ch.Verified() && c.Verified != nil {
			var verr error
			released, verr = c.Verified(ctx, q, ch)
			return verr
		}
		return nil
	})
	if parley.ErrorCode(uerr) == parley.CodeNotFound {
		log.InfoContext(ctx, "channel gone before its check was recorded")
		return nil
	}
	if uerr != nil {
		return uerr
	}
	if stale {
		log.InfoContext(ctx, "channel changed during its check: result not recorded (the save's own check records it)")
		return nil
	}
	if err != nil {
		log.WarnContext(ctx, "channel credentials rejected: webhooks for its number are not routed to it", "err", err)
		return nil
	}
	log.InfoContext(ctx, "channel checked", "display_number", display, "released_messages", released)
	return nil
}

package followup

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// A rule is live as soon as it is saved (seed: "the followup rule becomes
// active immediately"): one created, reactivated, given a new channel or a
// shorter delay must reach the conversations already silent, which no agent
// message will schedule again. Saving it enqueues a BackfillArgs job in the
// same transaction; the job reads the silent conversations from an index,
// once, and brings their due times and Follow-Up Requests forward. The
// periodic scan stays cheap: it still reads due conversations only.

// BackfillArgs is the job that brings one rule to the conversations already
// silent on its channels.
type BackfillArgs struct {
	TenantID string `json:"tenant_id"`
	RuleID   string `json:"rule_id"`
}

// Kind is the job's stable name.
func (BackfillArgs) Kind() string { return "follow_up_rule_backfill" }

// InsertOpts: transient failures (the database) retry.
func (BackfillArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 10} }

const backfillBatch = 500

// RuleSaved is called in the transaction that saves rule after (before is
// the rule as it was, nil when it is new). When the change may reach
// conversations already silent, it enqueues the rule's back-fill.
func (s *Service) RuleSaved(ctx context.Context, q *store.Queries, before *parley.FollowUpRule, after parley.FollowUpRule) error {
	if !after.Active {
		return nil
	}
	if before != nil && before.Active && after.Delay >= before.Delay && !widened(before.ChannelIDs, after.ChannelIDs) {
		return nil // reaches no conversation it did not reach before
	}
	if err := s.Jobs.InsertTx(ctx, q.Tx(), BackfillArgs{TenantID: after.TenantID, RuleID: after.ID}, nil); err != nil {
		return fmt.Errorf("enqueue follow-up rule back-fill: %w", err)
	}
	return nil
}

// widened reports whether a rule's channels now cover a channel they did
// not (an empty list covers every channel).
func widened(before, after []string) bool {
	if len(before) == 0 {
		return false
	}
	if len(after) == 0 {
		return true
	}
	for _, id := range after {
		if !slices.Contains(before, id) {
			return true
		}
	}
	return false
}

// BackfillWorker works rule back-fills.
type BackfillWorker struct {
	river.WorkerDefaults[BackfillArgs]
	S *Service
}

// Timeout bounds one back-fill; what it did is kept, and a retry goes on
// from the index (already scheduled conversations are left as they are).
func (w *BackfillWorker) Timeout(*river.Job[BackfillArgs]) time.Duration { return 30 * time.Minute }

// Work back-fills the rule.
func (w *BackfillWorker) Work(ctx context.Context, job *river.Job[BackfillArgs]) error {
	_, err := w.S.Backfill(ctx, job.Args.TenantID, job.Args.RuleID)
	return err
}

// Backfill moves the due time of each conversation silent on the rule's
// channels, that the rule may still follow up, to when the rule falls due
// for it (now, for those already silent past its delay) unless another rule
// falls due earlier, and schedules its Follow-Up Request for then. The
// request decides as usual: business rules, hours, once per session. It
// returns how many conversations it scheduled.
func (s *Service) Backfill(ctx context.Context, tenantID, ruleID string) (int, error) {
	log := s.log().With("tenant_id", tenantID, "rule_id", ruleID)
	rule, err := s.Store.GetFollowUpRule(ctx, tenantID, ruleID)
	if parley.ErrorCode(err) == parley.CodeNotFound {
		return 0, nil // deleted since
	}
	if err != nil {
		return 0, err
	}
	if !rule.Active {
		return 0, nil // deactivated since
	}
	channels := rule.ChannelIDs
	if len(channels) == 0 {
		all, _, err := s.Store.ListChannels(ctx, tenantID, store.Page{Limit: 1000})
		if err != nil {
			return 0, err
		}
		for _, c := range all {
			channels = append(channels, c.ID)
		}
	}
	total := 0
	for _, channelID := range channels {
		var after store.SilentConversation
		for {
			var page []store.SilentConversation
			err := s.Store.InTx(ctx, func(q *store.Queries) error {
				var err error
				if page, err = q.SilentConversations(ctx, tenantID, ruleID, channelID, after, backfillBatch); err != nil {
					return err
				}
				now := s.Clock.Now()
				var jobs []river.InsertManyParams
				for _, c := range page {
					at := c.LastAgentAt.Add(rule.Delay)
					if at.Before(now) {
						at = now
					}
					moved, err := q.AdvanceFollowUpDue(ctx, tenantID, c.ID, at)
					if err != nil {
						return err
					}
					if moved {
						jobs = append(jobs, river.InsertManyParams{Args: RequestArgs{ID: c.ID}, InsertOpts: &river.InsertOpts{ScheduledAt: at}})
					}
				}
				if len(jobs) > 0 {
					if _, err := s.Jobs.Client().InsertManyTx(ctx, q.Tx(), jobs); err != nil {
						return fmt.Errorf("schedule follow-up requests: %w", err)
					}
				}
				total += len(jobs)
				return nil
			})
			if err != nil {
				return total, err
			}
			if len(page) < backfillBatch {
				break
			}
			after = page[len(page)-1]
		}
	}
	log.InfoContext(ctx, "follow-up rule back-filled the conversations already silent", "scheduled", total)
	return total, nil
}

package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// A rule's back-fill and preview read the open customer conversations
// waiting on the customer, on the rule's channels, that have not had the
// rule decided nor any follow-up sent this session; a due time only ever
// moves earlier.
func TestFollowUpSilentConversationsAndDue(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		tn := newTenant(t, s, "A")
		ch := newChannel(t, s, tn.ID, "106000000000031")
		other := newChannel(t, s, tn.ID, "106000000000032")
		t0 := time.Date(2030, 3, 6, 12, 0, 0, 0, time.UTC)
		rule, err := s.CreateFollowUpRule(ctx, parley.FollowUpRule{TenantID: tn.ID, Title: "Nudge", Message: "Hi?", Delay: time.Hour, ReplyWindow: time.Hour, Active: true, ChannelIDs: []string{ch.ID}})
		if err != nil {
			t.Fatal(err)
		}
		conv := func(phone, channelID string, agentAt time.Duration, customerAt *time.Duration) parley.Conversation {
			t.Helper()
			c, err := s.CreateConversation(ctx, parley.Conversation{TenantID: tn.ID, ContactPhone: phone, ChannelID: channelID})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.TouchInbound(ctx, tn.ID, c.ID, channelID, t0); err != nil {
				t.Fatal(err)
			}
			if err := s.TouchOutbound(ctx, tn.ID, c.ID, t0.Add(agentAt)); err != nil {
				t.Fatal(err)
			}
			if customerAt != nil {
				if c, err = s.TouchInbound(ctx, tn.ID, c.ID, channelID, t0.Add(*customerAt)); err != nil {
					t.Fatal(err)
				}
			}
			c, err = s.GetConversation(ctx, tn.ID, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		later := 3 * time.Minute
		long := conv("+5511999994001", ch.ID, time.Minute, nil)
		recent := conv("+5511999994002", ch.ID, 2*time.Hour, nil)
		conv("+5511999994003", ch.ID, time.Minute, &later) // the customer wrote last
		conv("+5511999994004", other.ID, time.Minute, nil) // another channel
		followed := conv("+5511999994005", ch.ID, 2*time.Minute, nil)
		if _, err := s.ClaimFollowUp(ctx, parley.FollowUp{TenantID: tn.ID, RuleID: rule.ID, ConversationID: followed.ID, SessionStartedAt: followed.SessionStartedAt, Outcome: parley.FollowUpSent}); err != nil {
			t.Fatal(err)
		}

		var got []string
		var after store.SilentConversation
		for {
			page, err := s.SilentConversations(ctx, tn.ID, rule.ID, ch.ID, after, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				got = append(got, c.ID)
			}
			if len(page) < 1 {
				break
			}
			after = page[0]
		}
		if len(got) != 2 || got[0] != long.ID || got[1] != recent.ID {
			t.Fatalf("silent conversations = %v, want [%s %s]", got, long.ID, recent.ID)
		}
		reach, err := s.RuleReach(ctx, rule, t0.Add(90*time.Minute))
		if err != nil || reach.WouldReachNow != 1 || reach.Reached != 1 {
			t.Fatalf("reach at 1h30 = %+v, %v; want 1 silent past the delay, 1 reached", reach, err)
		}

		if moved, err := s.AdvanceFollowUpDue(ctx, tn.ID, long.ID, t0.Add(time.Hour)); !moved || err != nil {
			t.Fatalf("first due: moved %v, %v", moved, err)
		}
		if moved, err := s.AdvanceFollowUpDue(ctx, tn.ID, long.ID, t0.Add(2*time.Hour)); moved || err != nil {
			t.Fatalf("a later due: moved %v, %v", moved, err)
		}
		if moved, err := s.AdvanceFollowUpDue(ctx, tn.ID, long.ID, t0.Add(30*time.Minute)); !moved || err != nil {
			t.Fatalf("an earlier due: moved %v, %v", moved, err)
		}
		if due, err := s.FollowUpDue(ctx, long.ID); err != nil || due == nil || !due.Equal(t0.Add(30*time.Minute)) {
			t.Fatalf("due = %v, %v", due, err)
		}
	})
}

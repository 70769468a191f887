package channel_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/whatsapp"
	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// rig is a send stage's world without the rest of Parley: one database
// reached through any number of Store handles (as separate processes
// would), a fake Graph API, and a tenant with a channel and conversations.
type rig struct {
	t      *testing.T
	dsn    string
	clk    *clock.Fake
	graph  *whatsapptest.FakeGraph
	st     *store.Store
	tenant string
	ch     parley.Channel
}

func newRig(t *testing.T, engine store.Engine) *rig {
	t.Helper()
	r := &rig{t: t, clk: clock.NewFake(now()), dsn: storetest.DSN(t, engine), graph: whatsapptest.NewFakeGraph()}
	t.Cleanup(r.graph.Close)
	r.graph.AddNumber(whatsapptest.Number{ID: pnID, Token: graphToken, Display: "+1 555-000-1111"})
	st, err := store.Open(context.Background(), r.dsn, store.Options{Clock: r.clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.st = st
	ctx := context.Background()
	if err := r.st.RefreshWebhooksActive(ctx); err != nil {
		t.Fatal(err)
	}
	tn, err := r.st.CreateTenant(ctx, parley.Tenant{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	r.tenant = tn.ID
	if r.ch, err = r.st.CreateChannel(ctx, parley.Channel{TenantID: tn.ID, Type: parley.ChannelWhatsApp, Name: "wa",
		PhoneNumberID: pnID, AccessToken: graphToken, Active: true}); err != nil {
		t.Fatal(err)
	}
	return r
}

// handle opens another Store on the rig's database.
func (r *rig) handle() *store.Store {
	r.t.Helper()
	st, err := store.Open(context.Background(), r.dsn, store.Options{Clock: r.clk})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { st.Close() })
	// As the app does at start: no subscriptions, so events look for none.
	if err := st.RefreshWebhooksActive(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	return st
}

// stage is a send stage on st, as one process runs it.
func (r *rig) stage(st *store.Store) *channel.SendStage {
	r.t.Helper()
	wa, err := whatsapp.NewClient(whatsapp.Config{BaseURL: r.graph.URL, RateLimit: -1, Clock: r.clk})
	if err != nil {
		r.t.Fatal(err)
	}
	return &channel.SendStage{Sender: &channel.Sender{Store: st, Log: slog.New(slog.DiscardHandler),
		Providers: map[parley.ChannelType]channel.Provider{parley.ChannelWhatsApp: &whatsapp.Provider{Client: wa}}}}
}

// queue queues n text messages, each in a conversation of its own whose
// contact wrote a minute ago.
func (r *rig) queue(n int) []string {
	r.t.Helper()
	ctx := context.Background()
	out := &channel.Outbox{}
	var ids []string
	for i := range n {
		at := r.clk.Now().Add(-time.Minute)
		conv, err := r.st.CreateConversation(ctx, parley.Conversation{TenantID: r.tenant, ContactPhone: fmt.Sprintf("+55119%08d", i),
			ChannelID: r.ch.ID, LastCustomerMessageAt: &at})
		if err != nil {
			r.t.Fatal(err)
		}
		err = r.st.InTx(ctx, func(q *store.Queries) error {
			m, err := out.Queue(ctx, q, conv, parley.Message{Role: parley.RoleAI, Content: fmt.Sprintf("message %d", i)})
			ids = append(ids, m.ID)
			return err
		})
		if err != nil {
			r.t.Fatal(err)
		}
	}
	return ids
}

// received counts what the fake Graph API accepted, by our message id.
func (r *rig) received() map[string]int {
	got := map[string]int{}
	for _, s := range r.graph.Sent() {
		got[s.CallbackData]++
	}
	return got
}

func (r *rig) message(id string) parley.Message {
	r.t.Helper()
	m, err := r.st.GetMessage(context.Background(), r.tenant, id)
	if err != nil {
		r.t.Fatal(err)
	}
	return m
}

// Two processes' send loops on one PostgreSQL database split the queued
// messages between them: each reaches Meta exactly once.
func TestTwoSendLoopsSendEachMessageOnce(t *testing.T) {
	t.Parallel()
	storetest.RequirePostgres(t)
	r := newRig(t, store.Postgres)
	ids := r.queue(300)
	ha, hb := r.handle(), r.handle()
	a, b := r.stage(ha), r.stage(hb)
	for _, s := range []*channel.SendStage{a, b} {
		s.Batch = 32
	}
	before := []store.Stats{ha.Stats(), hb.Stats()}
	var wg sync.WaitGroup
	took := make([]int, 2)
	for i, s := range []*channel.SendStage{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := s.Turn(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
				took[i] += n
			}
		}()
	}
	wg.Wait()
	got := r.received()
	for _, id := range ids {
		if got[id] != 1 {
			t.Fatalf("message %s reached Meta %d times, want 1", id, got[id])
		}
		if m := r.message(id); m.Status != parley.StatusSent || m.ChannelMessageID == "" {
			t.Fatalf("message %s is %s %q, want sent with its wamid", id, m.Status, m.ChannelMessageID)
		}
	}
	if len(r.graph.Sent()) != len(ids) {
		t.Fatalf("%d sends, want %d", len(r.graph.Sent()), len(ids))
	}
	stmts := ha.Stats().Statements - before[0].Statements + hb.Stats().Statements - before[1].Statements
	commits := ha.Stats().Commits - before[0].Commits + hb.Stats().Commits - before[1].Commits
	t.Logf("loop A took %d, loop B %d; %.2f SQL statements and %.3f commits per sent message (%d turns' worth)",
		took[0], took[1], float64(stmts)/float64(len(ids)), float64(commits)/float64(len(ids)), len(ids)/32+2)
	// The stage's own: a claim, two reads and a mark per batch, an update
	// per message; the rest is AppendEvent's (its event, and what it adds).
	if per := float64(stmts) / float64(len(ids)); per > 3.5 {
		t.Errorf("%.2f statements per sent message, want at most 3.5", per)
	}
}

// A claim whose lease ran out is taken by another loop; the old holder can
// then neither mark (so never sends) nor record anything.
func TestAnExpiredClaimIsRetakenAndTheOldHolderCannotSend(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		r := newRig(t, engine)
		ids := r.queue(2)
		ctx := context.Background()
		old := r.handle()
		claims, err := old.ClaimSends(ctx, "old", 10, channel.DefaultSendLease)
		if err != nil || len(claims) != 2 {
			t.Fatalf("claimed %d (%v), want 2", len(claims), err)
		}
		// While the lease holds, nobody else takes them.
		other := r.stage(r.handle())
		if n, err := other.Turn(ctx); n != 0 || err != nil {
			t.Fatalf("another loop took %d (%v) of leased messages", n, err)
		}
		r.clk.Advance(channel.DefaultSendLease + time.Second)
		// Expired, not yet retaken: the old holder may not send either.
		if marked, err := old.MarkSends(ctx, "old", ids); err != nil || len(marked) != 0 {
			t.Fatalf("old holder marked %v (%v) after its lease ran out", marked, err)
		}
		if n, err := other.Turn(ctx); n != 2 || err != nil {
			t.Fatalf("the other loop took %d (%v), want 2", n, err)
		}
		if marked, err := old.MarkSends(ctx, "old", ids); err != nil || len(marked) != 0 {
			t.Fatalf("old holder marked %v (%v) after a takeover", marked, err)
		}
		err = old.InTx(ctx, func(q *store.Queries) error {
			changed, err := q.RecordSend(ctx, "old", store.SendOutcome{TenantID: r.tenant, ID: ids[0], Failed: true, ErrorCode: "x", Reason: "late"})
			if changed {
				t.Errorf("the old holder recorded a failure over a sent message")
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		got := r.received()
		for _, id := range ids {
			if got[id] != 1 || r.message(id).Status != parley.StatusSent {
				t.Fatalf("message %s: %d sends, status %s; want 1, sent", id, got[id], r.message(id).Status)
			}
		}
	})
}

// A process killed between its mark and its commit (the provider call may
// or may not have gone out) leaves the message marked and leased. After the
// lease, the next loop sends once the lost attempt's status had
// DefaultStatusWait after the mark to come: within 15 s of the crash.
// Had the lost call reached Meta, its status would have recorded the wamid
// first and nothing would be sent again.
func TestAKillMidSendIsSentOnceAfterwards(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		r := newRig(t, engine)
		ids := r.queue(2)
		ctx := context.Background()
		dead := r.handle()
		if claims, err := dead.ClaimSends(ctx, "dead", 10, channel.DefaultSendLease); err != nil || len(claims) != 2 {
			t.Fatalf("claimed %d (%v)", len(claims), err)
		}
		if marked, err := dead.MarkSends(ctx, "dead", ids); err != nil || len(marked) != 2 {
			t.Fatalf("marked %v (%v)", marked, err)
		}
		dead.Close() // kill -9: no outcome recorded
		// The lost call of ids[1] did reach Meta: its status webhook
		// brings the wamid.
		if _, err := r.st.AdvanceMessageDelivery(ctx, r.tenant, ids[1], store.MessageUpdate{ChannelMessageID: "wamid.LOST", Status: parley.StatusSent}); err != nil {
			t.Fatal(err)
		}
		restarted := r.stage(r.handle())
		turn := func() int {
			n, err := restarted.Turn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if turn() != 0 {
			t.Fatal("a leased message was taken before its lease ran out")
		}
		// The lease and the status wait both run from before the crash
		// and end together: the first turn after the lease sends.
		r.clk.Advance(max(channel.DefaultSendLease, channel.DefaultStatusWait) + 100*time.Millisecond)
		turn()
		if got := r.received(); got[ids[0]] != 1 || got[ids[1]] != 0 {
			t.Fatalf("received %v, want %s once and %s (sent before the crash) never", got, ids[0], ids[1])
		}
		if m := r.message(ids[0]); m.Status != parley.StatusSent {
			t.Fatalf("message is %s, want sent", m.Status)
		}
		if m := r.message(ids[1]); m.ChannelMessageID != "wamid.LOST" {
			t.Fatalf("message sent before the crash now has %q", m.ChannelMessageID)
		}
		if turn() != 0 || len(r.graph.Sent()) != 1 {
			t.Fatalf("%d sends after all, want 1", len(r.graph.Sent()))
		}
	})
}

// The stage sends only through the providers it was given: a message on a
// channel whose type has none fails as channel_unavailable, and nothing
// reaches Meta.
func TestSendStageSendsOnlyThroughItsProviders(t *testing.T) {
	t.Parallel()
	r := newRig(t, store.SQLite)
	ids := r.queue(1)
	s := r.stage(r.st)
	s.Sender.Providers = map[parley.ChannelType]channel.Provider{}
	if n, err := s.Turn(context.Background()); n != 1 || err != nil {
		t.Fatalf("turn: %d %v", n, err)
	}
	m := r.message(ids[0])
	if m.Status != parley.StatusFailed || m.ErrorCode != channel.CodeNoChannel {
		t.Fatalf("message: %s %q %q", m.Status, m.ErrorCode, m.ErrorReason)
	}
	if got := r.received(); len(got) != 0 {
		t.Fatalf("Meta received %v", got)
	}
}

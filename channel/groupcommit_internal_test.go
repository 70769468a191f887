package channel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/clock"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// groupFixture is a gateway on a fresh store with one channel, and a
// request builder for it.
func groupFixture(t *testing.T, engine store.Engine, max int) (*Gateway, *store.Store, parley.Channel) {
	t.Helper()
	st := storetest.Open(t, engine, clock.NewFake(time.Now().UTC()))
	ctx := context.Background()
	tn, err := st.CreateTenant(ctx, parley.Tenant{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := st.CreateChannel(ctx, parley.Channel{TenantID: tn.ID, Type: parley.ChannelWhatsApp, Name: "main", PhoneNumberID: "106000000000002",
		AccessToken: "t", Active: true, Settings: map[string]string{parley.SettingCheck: parley.CheckOK}})
	if err != nil {
		t.Fatal(err)
	}
	// A long window that a full group cuts short: the group is exactly the
	// requests sent together.
	g := New(Config{Store: st, GroupWindow: 30 * time.Second, GroupMax: max})
	return g, st, ch
}

func oneMessage(ch parley.Channel, wamid string, lookupErr error) []Batch {
	route := ch.PhoneNumberID
	if lookupErr != nil {
		route = "poisoned" // a lookup is made once per route and group
	}
	return []Batch{{Route: route,
		Lookup: func(context.Context, *store.Queries) (parley.Channel, error) { return ch, lookupErr },
		Messages: []store.InboxMessage{{ProviderMessageID: wamid, Sender: "5511999990000", ContactName: "Ana",
			Type: parley.MessageText, Content: "hello " + wamid}}}}
}

// ingestAll sends the requests at once and returns each one's result.
func ingestAll(g *Gateway, reqs [][]Batch) []error {
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = g.Ingest(context.Background(), "whatsapp", r) }()
	}
	wg.Wait()
	return errs
}

// Requests that come together share one commit; each is answered after it.
func TestRequestsThatComeTogetherShareOneCommit(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		g, st, ch := groupFixture(t, engine, 8)
		var reqs [][]Batch
		for i := range 8 {
			reqs = append(reqs, oneMessage(ch, fmt.Sprintf("wamid.G%d", i), nil))
		}
		for i, err := range ingestAll(g, reqs) {
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		if c := commitsOf(t, g); c != 1 {
			t.Fatalf("%v commits for 8 requests sent together, want 1", c)
		}
		items, err := st.InboxByChannel(context.Background(), ch.TenantID, ch.ID)
		if err != nil || len(items) != 8 {
			t.Fatalf("%d inbox rows (%v), want 8", len(items), err)
		}
	})
}

// A request the database refuses fails its group's commit; the group is
// then committed one request at a time, so only that request fails (and
// its provider retries it) while the others are stored.
func TestOnePoisonedRequestFailsOnlyItself(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		g, st, ch := groupFixture(t, engine, 5)
		poison := errors.New("poisoned request")
		var reqs [][]Batch
		for i := range 5 {
			var err error
			if i == 2 {
				err = poison
			}
			reqs = append(reqs, oneMessage(ch, fmt.Sprintf("wamid.P%d", i), err))
		}
		for i, err := range ingestAll(g, reqs) {
			if (i == 2) != errors.Is(err, poison) {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		items, err := st.InboxByChannel(context.Background(), ch.TenantID, ch.ID)
		if err != nil || len(items) != 4 {
			t.Fatalf("%d inbox rows (%v), want the 4 good requests'", len(items), err)
		}
		for _, it := range items {
			if it.ProviderMessageID == "wamid.P2" {
				t.Fatal("the poisoned request's message was stored")
			}
		}
		// The group failed once, then 4 commits of one.
		if c := commitsOf(t, g); c != 4 {
			t.Fatalf("%v commits, want 4", c)
		}
	})
}

func commitsOf(t *testing.T, g *Gateway) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.commits.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

package campaign

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// DefaultPrices estimate what Meta charges for one delivered template
// message, in US dollars, by category. Real prices depend on the
// recipient's country and change over time: a tenant sets its own in the
// broadcast settings (prices), and the result is always an estimate.
var DefaultPrices = map[string]float64{
	"marketing":      0.025,
	"utility":        0.004,
	"authentication": 0.0035,
}

// Cost is a broadcast's estimated cost: the messages that reached the
// provider (sent, delivered, read or replied to) × the price of the
// template's category.
type Cost struct {
	Category  string  `json:"category"`
	UnitPrice float64 `json:"unit_price"`
	Messages  int     `json:"messages"`
	Estimate  float64 `json:"estimate"`
	Currency  string  `json:"currency"`
}

// EstimateCost prices a broadcast's stats.
func EstimateCost(category string, st store.BroadcastStats, settings store.BroadcastSettings) Cost {
	price, ok := settings.Prices[category]
	if !ok {
		price = DefaultPrices[category]
	}
	return Cost{Category: category, UnitPrice: price, Messages: st.Sent, Estimate: float64(st.Sent) * price, Currency: "USD"}
}

// BroadcastView is a broadcast with its stats, progress and cost, as the
// API and the dashboard show it.
type BroadcastView struct {
	store.Broadcast
	Stats store.BroadcastStats `json:"stats"`
	// Progress is the share of recipients decided (queued, opted out,
	// skipped or cancelled), 0 to 100.
	Progress int  `json:"progress"`
	Cost     Cost `json:"cost"`
}

// View reads a broadcast's stats and prices them.
func View(ctx context.Context, q *store.Queries, b store.Broadcast) (BroadcastView, error) {
	st, err := q.BroadcastStats(ctx, b.TenantID, b.ID)
	if err != nil {
		return BroadcastView{}, err
	}
	settings, err := q.GetBroadcastSettings(ctx, b.TenantID)
	if err != nil {
		return BroadcastView{}, err
	}
	v := BroadcastView{Broadcast: b, Stats: st, Cost: EstimateCost(b.Category, st, settings)}
	if st.Total > 0 {
		v.Progress = (st.Total - st.Pending) * 100 / st.Total
	}
	return v, nil
}

// CheckSettings validates broadcast settings before they are stored: the
// API and the dashboard both call it, so both refuse the same settings
// with the same messages (a parley.FieldError naming the field).
func CheckSettings(s store.BroadcastSettings) error {
	for _, k := range slices.Sorted(maps.Keys(s.Prices)) {
		if _, ok := DefaultPrices[k]; !ok || s.Prices[k] < 0 {
			return parley.FieldError("prices."+k, "prices are by category (marketing, utility, authentication), each 0 or more")
		}
	}
	for _, w := range s.OptOutWords {
		if strings.TrimSpace(w) == "" || len([]rune(w)) > 32 {
			return parley.FieldError("opt_out_words", "an opt-out word is 1 to 32 characters")
		}
	}
	if len(s.OptOutWords) > 50 {
		return parley.FieldError("opt_out_words", "at most 50 opt-out words")
	}
	if len([]rune(s.OptOutReply)) > 1000 {
		return parley.FieldError("opt_out_reply", "the opt-out reply is at most 1000 characters")
	}
	if s.RatePerSec < 0 || s.RatePerSec > MaxRate {
		return parley.FieldError("rate_per_second", "the default rate is 0 (meaning %d) to %d messages a second", DefaultRate, MaxRate)
	}
	return nil
}

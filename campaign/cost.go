package campaign

import (
	"context"

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

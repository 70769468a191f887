package campaign

import "github.com/parleyhq/parley/store"

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

package dashboard

import (
	"net/http"

	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/usage"
)

// The Usage tab: what the tenant spent of the operator's LLM key and
// WhatsApp templates this month and last, against the budget the operator
// set (parley tenant budget). Read-only: budgets are not the tenant's.

type usageData struct {
	Tab    string
	Report usage.Report
	Months []store.Usage // this month, then last
}

func (d *Dashboard) usage(w http.ResponseWriter, r *http.Request, s *Session) error {
	rep, err := usage.ReportFor(r.Context(), d.store.Read(), s.TenantID, d.clock.Now())
	if err != nil {
		return err
	}
	return d.render(w, r, s, http.StatusOK, "settings_usage", usageData{Tab: "usage", Report: rep, Months: []store.Usage{rep.This, rep.Last}})
}

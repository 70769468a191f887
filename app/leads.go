package app

import (
	"encoding/json"
	"net/http"

	"github.com/parleyhq/parley/leads"
	"github.com/parleyhq/parley/web"
)

// mountLeads adds the follow-up call, a plain handler with its own error
// body, and its OpenAPI description.
func mountLeads(w *web.Server, svc *leads.Service) {
	// Limited per tenant like the rest of /api; a 429 in the call's envelope.
	w.HandleKeyed("POST "+leads.FollowUpPath, func(k web.KeyResolver) http.Handler { return svc.FollowUpHandler(k) },
		http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(http.StatusTooManyRequests)
			_ = json.NewEncoder(rw).Encode(leads.Envelope{Error: &leads.ErrorShape{Code: "RATE_LIMITED",
				Message: "too many requests for this tenant; retry after the Retry-After seconds"}})
		}))
	leads.Document(w.API())
}

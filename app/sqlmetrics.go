package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/store"
)

// registerSQLCounts exposes the store's statement and commit counts
// (store.Stats), labelled by engine, so `parley simulate` can divide them
// by the messages answered in a window.
func registerSQLCounts(reg prometheus.Registerer, st *store.Store) {
	labels := prometheus.Labels{"engine": string(st.Engine())}
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_sql_statements_total", Help: "SQL statements executed (Exec and Query, prepared or not), River's included.", ConstLabels: labels},
			func() float64 { return float64(st.Stats().Statements) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_sql_commits_total", Help: "Database transactions committed.", ConstLabels: labels},
			func() float64 { return float64(st.Stats().Commits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_sql_rollbacks_total", Help: "Database transactions rolled back.", ConstLabels: labels},
			func() float64 { return float64(st.Stats().Rollbacks) }),
	)
}

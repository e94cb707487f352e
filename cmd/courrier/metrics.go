package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/jobs"
)

// metricsHandler serves Prometheus text metrics: notices by kind and state,
// River jobs by state, and the deadline watchdog's counters.
func metricsHandler(pool *pgxpool.Pool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		fmt.Fprintln(w, "# HELP courrier_notices Open notices (pending, sending, sent) by kind and state.")
		fmt.Fprintln(w, "# TYPE courrier_notices gauge")
		if rows, err := pool.Query(ctx, `SELECT kind, state, count(*) FROM notices WHERE state IN ('pending', 'sending', 'sent') GROUP BY 1, 2 ORDER BY 1, 2`); err == nil {
			for rows.Next() {
				var kind, state string
				var n int64
				if rows.Scan(&kind, &state, &n) == nil {
					fmt.Fprintf(w, "courrier_notices{kind=%q,state=%q} %d\n", kind, state, n)
				}
			}
			rows.Close()
		}
		fmt.Fprintln(w, "# HELP courrier_river_jobs Unfinished River jobs by kind and state.")
		fmt.Fprintln(w, "# TYPE courrier_river_jobs gauge")
		if rows, err := pool.Query(ctx, `SELECT kind, state::text, count(*) FROM river_job WHERE state IN ('available', 'running', 'retryable', 'scheduled') GROUP BY 1, 2 ORDER BY 1, 2`); err == nil {
			for rows.Next() {
				var kind, state string
				var n int64
				if rows.Scan(&kind, &state, &n) == nil {
					fmt.Fprintf(w, "courrier_river_jobs{kind=%q,state=%q} %d\n", kind, state, n)
				}
			}
			rows.Close()
		}
		_ = jobs.WatchdogMetrics(w)
		writeBounceMetrics(w)
	}
}

package main

import (
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/httpapi"
	"github.com/courrier-dev/courrier/jobs"
)

// registerAPIOps mounts the campaign actions and the status callback
// endpoints.
func registerAPIOps(api *httpapi.Server, pool *pgxpool.Pool, client *river.Client[pgx.Tx], cfg *campaigns.Config, logger *slog.Logger) {
	(&httpapi.CampaignActions{DB: pool, River: client, Config: cfg, Logger: logger}).Register(api)
	(&httpapi.Callbacks{DB: pool, Logger: logger}).Register(api)
}

// addCallbackWorkers registers the status callback workers; their periodic
// dispatcher is jobs.CallbackPeriodicJobs.
func addCallbackWorkers(w *river.Workers, pool *pgxpool.Pool, logger *slog.Logger) error {
	return jobs.AddCallbackWorkers(w, pool, logger)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/httpapi"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/ledger"
)

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := env.newFlagSet("serve", "Runs the HTTP API, the delivery workers and the periodic jobs until SIGINT/SIGTERM.\n"+
		"On shutdown it stops fetching new jobs and lets running ones finish.")
	addr := fs.String("addr", env.get("COURRIER_HTTP_ADDR", "127.0.0.1:8080"), "HTTP listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := env.logger()
	pool, closeDB, err := env.openDB(ctx, true)
	if err != nil {
		return err
	}
	defer closeDB()
	rt, err := env.newRuntime(ctx, pool, logger, runtimeOpts{})
	if err != nil {
		return err
	}
	defer rt.Close()
	workers, err := env.int("COURRIER_WORKERS", 100)
	if err != nil {
		return err
	}
	cooldown, err := env.duration("COURRIER_FETCH_COOLDOWN", 20*time.Millisecond)
	if err != nil {
		return err
	}
	stuckAfter, err := env.duration("COURRIER_STUCK_AFTER", ledger.DefaultStuckAfter)
	if err != nil {
		return err
	}
	periodic := []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(time.Hour), func() (river.JobArgs, *river.InsertOpts) {
			return jobs.StuckArgs{}, nil
		}, &river.PeriodicJobOpts{ID: "mark_stuck_deliveries"}),
	}
	client, err := jobs.NewClient(pool, rt.deps, jobs.ClientConfig{MaxWorkers: workers, FetchCooldown: cooldown, Logger: logger,
		PeriodicJobs: periodic, Extra: func(w *river.Workers) error {
			return river.AddWorkerSafely(w, &jobs.StuckWorker{Pool: pool, After: stuckAfter, Logger: logger})
		}})
	if err != nil {
		return err
	}
	if err := client.Start(ctx); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	for ch, where := range rt.describe {
		logger.Info("channel configured", "channel", ch, "destination", where)
	}

	api := httpapi.NewServer(pool, logger)
	if token := env.Getenv("TWILIO_AUTH_TOKEN"); token != "" {
		hooks := &httpapi.TwilioWebhooks{DB: pool, AuthToken: token, PublicBaseURL: env.Getenv("COURRIER_PUBLIC_URL"),
			Logger: logger, OnFinalFailure: jobs.FallbackAfterReceipt(client)}
		api.HandleFunc("POST /webhooks/twilio/status", hooks.Status)
		api.HandleFunc("POST /webhooks/twilio/inbound", hooks.Inbound)
	}
	if secret := env.Getenv("COURRIER_UNSUBSCRIBE_SECRET"); secret != "" {
		unsub := &httpapi.Unsubscribe{DB: pool, Secret: []byte(secret)}
		api.Handle("GET /unsubscribe/{token}", unsub)
		api.Handle("POST /unsubscribe/{token}", unsub)
	}
	srv := &http.Server{Addr: *addr, Handler: api, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("courrier serving", "addr", *addr, "version", version)

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			_ = client.Stop(context.Background())
			return fmt.Errorf("http server: %w", err)
		}
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing running jobs")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	if err := client.Stop(shutdownCtx); err != nil {
		logger.Warn("workers did not stop cleanly", "error", err)
	}
	logger.Info("stopped")
	return nil
}

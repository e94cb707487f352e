package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/courrier-dev/courrier/httpapi"
	"github.com/courrier-dev/courrier/jobs"
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
	client, err := jobs.NewClient(pool, rt.deps, jobs.ClientConfig{MaxWorkers: workers, FetchCooldown: cooldown, Logger: logger})
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

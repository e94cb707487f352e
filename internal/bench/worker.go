package bench

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/courrier-dev/courrier/jobs"
)

// RunWorker works the benchmark's delivery and campaign jobs on pool,
// delivering to the given sinks, until ctx is done: the body of each extra
// process of `courrier bench --processes N`.
func RunWorker(ctx context.Context, pool *pgxpool.Pool, smtpURL, twilioURL string, opts Options) error {
	opts.defaults()
	b := &runner{pool: pool, opts: opts}
	deps, closeDeps, err := b.deps(smtpURL, twilioURL)
	if err != nil {
		return err
	}
	defer closeDeps()
	workers := river.NewWorkers()
	if err := jobs.AddWorkers(workers, deps); err != nil {
		return err
	}
	d := b.campaignDeps()
	if err := jobs.AddCampaignWorkers(workers, pool, d); err != nil {
		return err
	}
	client, err := river.NewClient(riverpgxv5.New(pool), b.riverConfig(workers))
	if err != nil {
		return err
	}
	if err := client.Start(context.Background()); err != nil {
		return err
	}
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts.Logger.Log(stopCtx, slog.LevelDebug, "bench worker stopping")
	return client.Stop(stopCtx)
}

package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
)

// ClientConfig tunes the River client. Zero values take the defaults.
type ClientConfig struct {
	// MaxWorkers is the number of jobs worked at once in this process.
	// Default 100.
	MaxWorkers int
	// BulkWorkers is the number of campaign batches worked at once in this
	// process (queue "bulk"). Default 4.
	BulkWorkers int
	// FetchCooldown is the shortest time between two fetches of jobs.
	// Default 20ms: River's 100ms default caps a process near 1,000 jobs/s.
	FetchCooldown time.Duration
	// FetchPollInterval is how often to poll when no notification arrives.
	// Default 1s.
	FetchPollInterval time.Duration
	// PeriodicJobs are inserted by the leader only.
	PeriodicJobs []*river.PeriodicJob
	Logger       *slog.Logger
	// Extra registers more workers (periodic and maintenance jobs wired by
	// the caller).
	Extra func(*river.Workers) error
	// ID names this client (defaults to River's generated id).
	ID string
	// Middleware wraps job inserts and work (tracing, see cmd/courrier).
	Middleware []rivertype.Middleware
}

// NewClient returns a River client that works courrier's jobs. Its queues
// start when Start is called; an insert-only client is NewInsertClient.
func NewClient(pool *pgxpool.Pool, deps *Deps, cfg ClientConfig) (*river.Client[pgx.Tx], error) {
	if cfg.MaxWorkers == 0 {
		cfg.MaxWorkers = 100
	}
	if cfg.BulkWorkers == 0 {
		cfg.BulkWorkers = 4
	}
	if cfg.FetchCooldown == 0 {
		cfg.FetchCooldown = 20 * time.Millisecond
	}
	if cfg.FetchPollInterval == 0 {
		cfg.FetchPollInterval = time.Second
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if deps.BulkWorkers == 0 {
		deps.BulkWorkers = cfg.BulkWorkers
	}
	workers := river.NewWorkers()
	if err := AddWorkers(workers, deps); err != nil {
		return nil, err
	}
	if cfg.Extra != nil {
		if err := cfg.Extra(workers); err != nil {
			return nil, err
		}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		ID:                cfg.ID,
		Logger:            logger,
		FetchCooldown:     cfg.FetchCooldown,
		FetchPollInterval: cfg.FetchPollInterval,
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: cfg.MaxWorkers},
			QueueBulk:          {MaxWorkers: cfg.BulkWorkers},
		},
		Workers:      workers,
		PeriodicJobs: cfg.PeriodicJobs,
		// See timeouts.go: the deliver kinds set their own timeouts; other
		// jobs get River's 60 s, said here so the rescue delay stays above it.
		JobTimeout:           MaxBatchTimeout,
		RescueStuckJobsAfter: RescueAfter(),
		Middleware:           cfg.Middleware,
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return client, nil
}

// NewInsertClient returns a River client that only inserts jobs (for the
// API and CLI commands that enqueue without working).
func NewInsertClient(pool *pgxpool.Pool, logger *slog.Logger) (*river.Client[pgx.Tx], error) {
	if logger == nil {
		logger = slog.Default()
	}
	return river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: logger})
}

// AddWorkers registers every courrier worker.
func AddWorkers(workers *river.Workers, deps *Deps) error {
	if err := river.AddWorkerSafely(workers, &DeliverWorker{Deps: deps}); err != nil {
		return err
	}
	return river.AddWorkerSafely(workers, &DeliverBatchWorker{Deps: deps})
}

// QuietLogger returns l without the records below min: for commands whose
// output is a summary (demo, bench), River's routine info lines are noise.
func QuietLogger(l *slog.Logger, min slog.Level) *slog.Logger {
	return slog.New(levelFilter{Handler: l.Handler(), min: min})
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

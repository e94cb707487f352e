package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/ledger"
)

// SealArgs asks for one pass of the ledger sealer.
type SealArgs struct {
	// BatchSize is the number of events per seal (ledger.DefaultSealBatch if 0).
	BatchSize int `json:"batch_size,omitempty"`
}

// Kind is the River job kind.
func (SealArgs) Kind() string { return "ledger_seal" }

// InsertOpts: a failed pass is simply replaced by the next one.
func (SealArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, Priority: 2}
}

// SealWorker chains the ledger events recorded since the last seal. Two
// passes at once are harmless: the second finds the seal lock taken and
// returns.
type SealWorker struct {
	river.WorkerDefaults[SealArgs]
	Pool *pgxpool.Pool
	// Key signs checkpoints; TSA, if set, timestamps them.
	Key *ledger.Key
	TSA ledger.Timestamper
}

// Work seals.
func (w *SealWorker) Work(ctx context.Context, job *river.Job[SealArgs]) error {
	n, err := ledger.Seal(ctx, w.Pool, ledger.SealOptions{Key: w.Key, TSA: w.TSA, Batch: job.Args.BatchSize})
	if err != nil {
		return fmt.Errorf("ledger seal: %w", err)
	}
	if n > 0 {
		slog.InfoContext(ctx, "ledger sealed", "events", n)
	}
	return nil
}

// Timeout: a long backlog is sealed over several passes if need be.
func (w *SealWorker) Timeout(*river.Job[SealArgs]) time.Duration { return 10 * time.Minute }

// ComplianceConfig tunes the compliance periodic jobs. Zero values take the
// defaults.
type ComplianceConfig struct {
	// SealInterval is how often the ledger is sealed. Default 1 minute.
	SealInterval time.Duration
	// SealBatch is the number of events per seal. Default ledger.DefaultSealBatch.
	SealBatch int
	// Retention is how long rendered content and addresses are kept.
	// Default ledger.DefaultRetention (24 months).
	Retention time.Duration
	// PurgeHour is the Paris hour of the daily retention purge. Default 3.
	PurgeHour int
}

func (c *ComplianceConfig) defaults() {
	if c.SealInterval <= 0 {
		c.SealInterval = time.Minute
	}
	if c.Retention <= 0 {
		c.Retention = ledger.DefaultRetention
	}
	if c.PurgeHour <= 0 || c.PurgeHour > 23 {
		c.PurgeHour = 3
	}
}

// CompliancePeriodicJobs are the periodic jobs of the tamper-evident ledger:
// sealing every SealInterval and the retention purge once a day.
func CompliancePeriodicJobs(cfg ComplianceConfig) []*river.PeriodicJob {
	cfg.defaults()
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(cfg.SealInterval),
			func() (river.JobArgs, *river.InsertOpts) { return SealArgs{BatchSize: cfg.SealBatch}, nil },
			&river.PeriodicJobOpts{ID: "ledger_seal", RunOnStart: true}),
		river.NewPeriodicJob(DailyAt(cfg.PurgeHour, 0),
			func() (river.JobArgs, *river.InsertOpts) {
				return RetentionPurgeArgs{RetentionHours: int64(cfg.Retention / time.Hour)}, nil
			},
			&river.PeriodicJobOpts{ID: "retention_purge"}),
	}
}

// AddComplianceWorkers registers the ledger sealer and the retention purge.
// key signs the ledger's checkpoints (see ledger.LoadKey); tsa may be nil.
func AddComplianceWorkers(workers *river.Workers, pool *pgxpool.Pool, key *ledger.Key, tsa ledger.Timestamper) error {
	if err := river.AddWorkerSafely(workers, &SealWorker{Pool: pool, Key: key, TSA: tsa}); err != nil {
		return err
	}
	return river.AddWorkerSafely(workers, &RetentionPurgeWorker{Pool: pool})
}

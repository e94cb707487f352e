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

// RetentionPurgeArgs asks for rendered content and addresses older than the
// retention period to be purged from deliveries.
type RetentionPurgeArgs struct {
	// RetentionHours is the retention period (ledger.DefaultRetention if 0).
	RetentionHours int64 `json:"retention_hours,omitempty"`
}

// Kind is the River job kind.
func (RetentionPurgeArgs) Kind() string { return "retention_purge" }

// InsertOpts: retried a few times; tomorrow's run catches up anyway.
func (RetentionPurgeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, Priority: 3}
}

// RetentionPurgeWorker runs ledger.Purge.
type RetentionPurgeWorker struct {
	river.WorkerDefaults[RetentionPurgeArgs]
	Pool *pgxpool.Pool
}

// Work purges.
func (w *RetentionPurgeWorker) Work(ctx context.Context, job *river.Job[RetentionPurgeArgs]) error {
	retention := time.Duration(job.Args.RetentionHours) * time.Hour
	if retention <= 0 {
		retention = ledger.DefaultRetention
	}
	before := time.Now().Add(-retention)
	n, err := ledger.Purge(ctx, w.Pool, before)
	if err != nil {
		return fmt.Errorf("retention purge: %w", err)
	}
	slog.InfoContext(ctx, "retention purge", "deliveries", n, "before", before.Format(time.DateOnly))
	return nil
}

// Timeout: the purge works in small batches and may take a while the first time.
func (w *RetentionPurgeWorker) Timeout(*river.Job[RetentionPurgeArgs]) time.Duration {
	return time.Hour
}

var purgeZone = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		return time.UTC
	}
	return loc
}()

// DailyAt is a river.PeriodicSchedule that fires every day at hour:minute,
// Paris time.
func DailyAt(hour, minute int) river.PeriodicSchedule { return dailySchedule{hour, minute} }

type dailySchedule struct{ hour, minute int }

func (d dailySchedule) Next(t time.Time) time.Time {
	p := t.In(purgeZone)
	next := time.Date(p.Year(), p.Month(), p.Day(), d.hour, d.minute, 0, 0, purgeZone)
	if !next.After(t) {
		next = time.Date(p.Year(), p.Month(), p.Day()+1, d.hour, d.minute, 0, 0, purgeZone)
	}
	return next
}

package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/ledger"
)

// PresumeArgs asks for accepted emails past the quiet period without a
// bounce to be presumed delivered.
type PresumeArgs struct{}

// Kind is the River job kind.
func (PresumeArgs) Kind() string { return "presume_emails_delivered" }

// PresumeWorker works PresumeArgs. It only runs where a bounce intake is
// configured: without one, silence proves nothing.
type PresumeWorker struct {
	river.WorkerDefaults[PresumeArgs]
	Pool *pgxpool.Pool
	// Quiet is the quiet period (default ledger.DefaultQuietPeriod, 72 h).
	Quiet  time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// Work presumes delivered, in batches, every email due.
func (w *PresumeWorker) Work(ctx context.Context, job *river.Job[PresumeArgs]) error {
	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	total := 0
	for ctx.Err() == nil {
		n, err := ledger.PresumeDelivered(ctx, w.Pool, w.Quiet, now, 5000)
		if err != nil {
			return err
		}
		total += n
		if n < 5000 {
			break
		}
	}
	if total > 0 && w.Logger != nil {
		w.Logger.Info("emails presumed delivered", "count", total)
	}
	return ctx.Err()
}

// BouncePeriodicJobs returns the presumption job, every 15 minutes.
func BouncePeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(15*time.Minute), func() (river.JobArgs, *river.InsertOpts) {
			return PresumeArgs{}, nil
		}, &river.PeriodicJobOpts{ID: "presume_emails_delivered"}),
	}
}

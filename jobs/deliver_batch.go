package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// DeliverBatchArgs asks for a campaign's batch of notices to be delivered.
// Each notice keeps its own outcome: one that must be retried, snoozed or
// fall back later leaves the batch as its own DeliverArgs job.
type DeliverBatchArgs struct {
	NoticeIDs []int64 `json:"notice_ids"`
}

// Kind is the River job kind.
func (DeliverBatchArgs) Kind() string { return "deliver_batch" }

// InsertOpts: a batch is worked once; its stragglers become single jobs
// with their own retries.
func (DeliverBatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, Priority: 3}
}

// DeliverBatchWorker works DeliverBatchArgs.
type DeliverBatchWorker struct {
	river.WorkerDefaults[DeliverBatchArgs]
	Deps *Deps
}

// Work delivers each notice of the batch; a notice whose delivery is not
// finished here is handed to a single-notice deliver job.
func (w *DeliverBatchWorker) Work(ctx context.Context, job *river.Job[DeliverBatchArgs]) error {
	client := river.ClientFromContext[pgx.Tx](ctx)
	var spill []river.InsertManyParams
	for _, id := range job.Args.NoticeIDs {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := w.Deps.deliver(ctx, id, false)
		if err == nil {
			continue
		}
		opts := &river.InsertOpts{}
		var snooze *river.JobSnoozeError
		var cancel *river.JobCancelError
		switch {
		case errors.As(err, &cancel):
			continue // the notice is already marked failed
		case errors.As(err, &snooze):
			opts.ScheduledAt = w.Deps.now().Add(snooze.Duration)
		}
		spill = append(spill, river.InsertManyParams{Args: DeliverArgs{NoticeID: id}, InsertOpts: opts})
	}
	if len(spill) > 0 {
		if _, err := client.InsertMany(ctx, spill); err != nil {
			return fmt.Errorf("hand %d notices to single deliver jobs: %w", len(spill), err)
		}
	}
	return nil
}

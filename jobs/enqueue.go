package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/notices"
)

// EnqueueOpts are optional settings of EnqueueNotice.
type EnqueueOpts struct {
	// NotBefore delays the first delivery attempt (e.g. bereavement
	// outreach 15 days after the event).
	NotBefore time.Time
	// Priority is River's priority, 1 (first) to 4. Defaults to 2.
	Priority int
}

// EnqueueNotice inserts the notice, or finds the one with the same
// idempotency key, and in the same transaction inserts its deliver job. A
// rolled-back transaction leaves neither; a replayed key creates neither
// again (created is false).
func EnqueueNotice(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], n notices.New, opts *EnqueueOpts) (id int64, created bool, err error) {
	id, created, err = notices.Insert(ctx, tx, n)
	if err != nil || !created {
		return id, created, err
	}
	if opts == nil {
		opts = &EnqueueOpts{}
	}
	insertOpts := &river.InsertOpts{ScheduledAt: opts.NotBefore, Priority: opts.Priority}
	if _, err := client.InsertTx(ctx, tx, DeliverArgs{NoticeID: id}, insertOpts); err != nil {
		return 0, false, fmt.Errorf("enqueue deliver job for notice %d: %w", id, err)
	}
	return id, true, nil
}

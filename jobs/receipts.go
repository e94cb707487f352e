package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/ledger"
)

// FallbackAfterReceipt returns the function that provider webhooks call, in
// the receipt's transaction, when a receipt says a delivery finally failed
// (e.g. an SMS "undelivered"): the notice goes back to pending and a deliver
// job moves it to the next channel of its route.
func FallbackAfterReceipt(client *river.Client[pgx.Tx]) func(ctx context.Context, tx pgx.Tx, noticeID int64) error {
	return func(ctx context.Context, tx pgx.Tx, noticeID int64) error {
		if _, err := tx.Exec(ctx, `UPDATE notices SET state = 'pending', updated_at = now()
			WHERE id = $1 AND state IN ('sending', 'sent')`, noticeID); err != nil {
			return fmt.Errorf("notice %d back to pending: %w", noticeID, err)
		}
		if _, err := client.InsertTx(ctx, tx, DeliverArgs{NoticeID: noticeID}, nil); err != nil {
			return fmt.Errorf("enqueue fallback for notice %d: %w", noticeID, err)
		}
		return nil
	}
}

// StuckArgs asks for deliveries without a final receipt for too long to be
// marked unknown.
type StuckArgs struct{}

// Kind is the River job kind.
func (StuckArgs) Kind() string { return "mark_stuck_deliveries" }

// StuckWorker works StuckArgs.
type StuckWorker struct {
	river.WorkerDefaults[StuckArgs]
	Pool *pgxpool.Pool
	// After is how long a delivery may wait for its final receipt
	// (default ledger.DefaultStuckAfter, 72 h).
	After  time.Duration
	Now    func() time.Time
	Logger *slog.Logger
	// Fallback moves each stuck delivery's notice to its next channel
	// (default: FallbackAfterReceipt with the client working the job).
	Fallback func(ctx context.Context, tx pgx.Tx, noticeID int64) error
}

// Work marks stuck deliveries unknown (they count as not proven) and moves
// their notices on to the next channel of their route.
func (w *StuckWorker) Work(ctx context.Context, job *river.Job[StuckArgs]) error {
	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	fallback := w.Fallback
	if fallback == nil {
		client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
		if err != nil {
			return fmt.Errorf("mark stuck deliveries: no client to enqueue fallbacks: %w", err)
		}
		fallback = FallbackAfterReceipt(client)
	}
	n, err := ledger.MarkStuckThen(ctx, w.Pool, w.After, now, fallback)
	if err != nil {
		return err
	}
	if n > 0 {
		logger := w.Logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.Warn("deliveries without final receipt marked unknown", "count", n)
	}
	return nil
}

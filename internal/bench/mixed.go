package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/templates"
)

// ackStream enqueues single acknowledgements on the transactional path
// (one notice and its deliver job per transaction, as the intake API does)
// at a steady rate while a mailing runs on the bulk queue.
type ackStream struct {
	b        *runner
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	ids      []int64
	err      error
	startKey string
}

func (b *runner) startAcks(ctx context.Context, client *river.Client[pgx.Tx], rate int) (*ackStream, error) {
	var recipientIDs []int64
	rows, err := b.pool.Query(ctx, "SELECT id FROM recipients ORDER BY id LIMIT 1000")
	if err != nil {
		return nil, err
	}
	recipientIDs, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	if len(recipientIDs) == 0 {
		return nil, fmt.Errorf("mixed: no beneficiary to acknowledge")
	}
	sctx, cancel := context.WithCancel(ctx)
	a := &ackStream{b: b, cancel: cancel, startKey: time.Now().Format("150405.000")}
	data := templates.SampleData(string(notices.RequestAcknowledgement))
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
			}
			n := notices.New{
				RecipientID: recipientIDs[i%len(recipientIDs)], Kind: notices.RequestAcknowledgement, Data: data,
				IdempotencyKey: fmt.Sprintf("bench-ack:%s:%d", a.startKey, i), CreatedBy: "bench",
			}
			var id int64
			// The parent context: stopping the stream must never cut a
			// transaction between its commit and its bookkeeping.
			err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
				var err error
				id, _, err = jobs.EnqueueNotice(ctx, tx, client, n, nil)
				return err
			})
			if err != nil {
				a.mu.Lock()
				a.err = fmt.Errorf("enqueue acknowledgement: %w", err)
				a.mu.Unlock()
				return
			}
			a.mu.Lock()
			a.ids = append(a.ids, id)
			a.mu.Unlock()
		}
	}()
	return a, nil
}

// stop ends the stream and waits until every acknowledgement enqueued has
// been accepted by the sink (or a minute has passed).
func (a *ackStream) stop(ctx context.Context) error {
	a.cancel()
	a.wg.Wait()
	if a.err != nil {
		return a.err
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var pending int
		if err := a.b.pool.QueryRow(ctx, `SELECT count(*) FROM notices WHERE id = ANY($1) AND state NOT IN ('sent', 'delivered')`,
			a.ids).Scan(&pending); err != nil {
			return err
		}
		if pending == 0 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("mixed: acknowledgements still not accepted a minute after the mailing")
}

// phase reports the acknowledgements' enqueue→accepted delays.
func (a *ackStream) phase(ctx context.Context, rate int) (Phase, error) {
	var p50, p99, maxMs float64
	if err := a.b.pool.QueryRow(ctx, `
		SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.sent_at - n.created_at)), 0) * 1000,
		       coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM d.sent_at - n.created_at)), 0) * 1000,
		       coalesce(max(extract(epoch FROM d.sent_at - n.created_at)), 0) * 1000
		FROM notices n JOIN deliveries d ON d.notice_id = n.id
		WHERE n.id = ANY($1) AND d.sent_at IS NOT NULL`, a.ids).Scan(&p50, &p99, &maxMs); err != nil {
		return Phase{}, err
	}
	return Phase{Name: "mixed: single acknowledgements", Count: len(a.ids), P50Millis: p50, P99Millis: p99,
		Note: fmt.Sprintf("%d/s on the default queue during the mailing; max %.0f ms", rate, maxMs)}, nil
}

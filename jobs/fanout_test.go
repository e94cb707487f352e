package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/internal/pgtest"
)

type campaignBundle struct {
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
	deps   *CampaignDeps
}

func campaignSetup(t *testing.T) *campaignBundle {
	t.Helper()
	pool := pgtest.New(t)
	client, err := NewInsertClient(pool, nil)
	require.NoError(t, err)
	return &campaignBundle{pool: pool, client: client, deps: &CampaignDeps{Pool: pool}}
}

// seedRecipients adds n active beneficiaries with one statement.
func (b *campaignBundle) seedRecipients(t *testing.T, n int) {
	t.Helper()
	_, err := b.pool.Exec(context.Background(), `
		INSERT INTO recipients (ref, email, postal_code, benefits, joined_at)
		SELECT 'B' || lpad(g::text, 8, '0'), 'b' || g || '@exemple.fr', '75011', '{AF}', '2020-01-01'
		FROM generate_series(1, $1) g`, n)
	require.NoError(t, err)
}

// approvedMailing creates and starts a general mailing to every active
// beneficiary; alice creates, bob approves.
func (b *campaignBundle) approvedMailing(t *testing.T, pace campaigns.Pace) *campaigns.Campaign {
	t.Helper()
	ctx := context.Background()
	c, _, err := campaigns.Create(ctx, b.pool, campaigns.New{Kind: campaigns.GeneralMailing,
		Data: map[string]any{"period": "printemps 2027"}, Pace: pace, CreatedBy: "alice"}, nil)
	require.NoError(t, err)
	_, err = campaigns.Approve(ctx, b.pool, c.ID, "bob")
	require.NoError(t, err)
	c, err = StartCampaign(ctx, b.pool, b.client, c.ID, "alice", nil)
	require.NoError(t, err)
	return c
}

// batchJobs returns the notice ids of every deliver_batch job, in job order.
func (b *campaignBundle) batchJobs(t *testing.T, states ...string) [][]int64 {
	t.Helper()
	if len(states) == 0 {
		states = []string{"available", "scheduled", "pending", "retryable", "running", "completed"}
	}
	rows, err := b.pool.Query(context.Background(), `SELECT args FROM river_job WHERE kind = 'deliver_batch' AND state::text = ANY ($1) ORDER BY id`, states)
	require.NoError(t, err)
	raw, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	require.NoError(t, err)
	var out [][]int64
	for _, r := range raw {
		var a DeliverBatchArgs
		require.NoError(t, json.Unmarshal(r, &a))
		out = append(out, a.NoticeIDs)
	}
	return out
}

func (b *campaignBundle) campaignNoticeIDs(t *testing.T, id int64, state string) []int64 {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT id FROM notices WHERE campaign_id = $1 AND ($2 = '' OR state = $2) ORDER BY id`, id, state)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	return ids
}

func flatten(jobs [][]int64) []int64 {
	var all []int64
	for _, j := range jobs {
		all = append(all, j...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return all
}

func TestFanoutResumesAfterCrash(t *testing.T) {
	t.Parallel()
	b := campaignSetup(t)
	b.seedRecipients(t, 20000)
	c := b.approvedMailing(t, campaigns.Pace{})
	require.EqualValues(t, 20000, c.AudienceEstimate)

	// The process dies (context cancelled) right after the second batch commits.
	ctx, cancel := context.WithCancel(context.Background())
	b.deps.BatchSize, b.deps.JobSize = 5000, 250
	b.deps.afterBatch = func(_ int64, batch int) {
		if batch == 2 {
			cancel()
		}
	}
	err := b.deps.fanout(ctx, b.client, c.ID)
	require.ErrorIs(t, err, context.Canceled)
	mid, err := campaigns.Get(context.Background(), b.pool, c.ID)
	require.NoError(t, err)
	require.EqualValues(t, 10000, mid.Targeted)
	var tenThousandth int64
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT id FROM recipients ORDER BY id OFFSET 9999 LIMIT 1`).Scan(&tenThousandth))
	require.Equal(t, tenThousandth, mid.Cursor, "cursor saved with the second batch")
	require.Len(t, b.campaignNoticeIDs(t, c.ID, ""), 10000)
	require.Nil(t, mid.FanoutDoneAt)

	// Restart: resumes after the cursor.
	var resumedFrom []int64
	b.deps.afterBatch = func(id int64, _ int) {
		cc, _ := campaigns.Get(context.Background(), b.pool, id)
		resumedFrom = append(resumedFrom, cc.Cursor)
	}
	require.NoError(t, b.deps.fanout(context.Background(), b.client, c.ID))
	var id15k, id20k int64
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT (SELECT id FROM recipients ORDER BY id OFFSET 14999 LIMIT 1), max(id) FROM recipients`).Scan(&id15k, &id20k))
	// Two more full batches, then an empty one that finds the end.
	require.Equal(t, []int64{id15k, id20k, id20k}, resumedFrom, "resumed after the cursor, not from the start")
	b.deps.afterBatch = nil
	// Running it again changes nothing.
	require.NoError(t, b.deps.fanout(context.Background(), b.client, c.ID))

	var notices, recipientsCovered, dupes int
	require.NoError(t, b.pool.QueryRow(context.Background(), `
		SELECT count(*), count(DISTINCT recipient_id),
		       (SELECT count(*) FROM (SELECT recipient_id FROM notices WHERE campaign_id = $1 GROUP BY 1 HAVING count(*) > 1) d)
		FROM notices WHERE campaign_id = $1`, c.ID).Scan(&notices, &recipientsCovered, &dupes))
	require.Equal(t, 20000, notices)
	require.Equal(t, 20000, recipientsCovered)
	require.Zero(t, dupes)

	jobs := b.batchJobs(t)
	require.Len(t, jobs, 80)
	for _, j := range jobs {
		require.Len(t, j, 250)
	}
	require.Equal(t, b.campaignNoticeIDs(t, c.ID, ""), flatten(jobs), "every notice in exactly one deliver_batch job")

	done, err := campaigns.Get(context.Background(), b.pool, c.ID)
	require.NoError(t, err)
	require.NotNil(t, done.FanoutDoneAt)
	require.EqualValues(t, 20000, done.Targeted)
	counts, err := campaigns.GetCounts(context.Background(), b.pool, c.ID)
	require.NoError(t, err)
	require.EqualValues(t, 20000, counts.Created)
	require.EqualValues(t, 20000, counts.Pending)
}

func TestFanoutPace(t *testing.T) {
	t.Parallel()
	b := campaignSetup(t)
	b.seedRecipients(t, 40)
	c := b.approvedMailing(t, campaigns.Pace{Days: 2})
	b.deps.BatchSize, b.deps.JobSize = 20, 10
	require.NoError(t, b.deps.fanout(context.Background(), b.client, c.ID))
	rows, err := b.pool.Query(context.Background(), `SELECT scheduled_at FROM river_job WHERE kind = 'deliver_batch' ORDER BY id`)
	require.NoError(t, err)
	at, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
	require.NoError(t, err)
	require.Len(t, at, 4)
	start := *c.StartedAt
	for i, want := range []time.Duration{0, 12 * time.Hour, 24 * time.Hour, 36 * time.Hour} {
		require.WithinDuration(t, start.Add(want), at[i], time.Minute, "job %d", i)
	}
}

func TestPauseResumeCancelCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := campaignSetup(t)
	b.seedRecipients(t, 10)
	c := b.approvedMailing(t, campaigns.Pace{})
	b.deps.BatchSize, b.deps.JobSize = 4, 2

	// Pause after the first batch: the fan-out stops there.
	b.deps.afterBatch = func(id int64, batch int) {
		if batch == 1 {
			_, err := PauseCampaign(ctx, b.pool, b.client, id, "carol")
			require.NoError(t, err)
		}
	}
	require.NoError(t, b.deps.fanout(ctx, b.client, c.ID))
	b.deps.afterBatch = nil
	paused, err := campaigns.Get(ctx, b.pool, c.ID)
	require.NoError(t, err)
	require.Equal(t, campaigns.StatePaused, paused.State)
	require.EqualValues(t, 4, paused.Targeted)
	require.Empty(t, b.batchJobs(t), "waiting deliver_batch jobs withdrawn")
	active, err := CampaignActive(ctx, b.pool, c.ID)
	require.NoError(t, err)
	require.False(t, active)

	// One notice was already delivered before the pause.
	first := b.campaignNoticeIDs(t, c.ID, "")[0]
	_, err = b.pool.Exec(ctx, `UPDATE notices SET state = 'delivered', delivered_at = now(), sent_at = now() WHERE id = $1`, first)
	require.NoError(t, err)

	_, err = ResumeCampaign(ctx, b.pool, b.client, c.ID, "carol", 2)
	require.NoError(t, err)
	require.Equal(t, b.campaignNoticeIDs(t, c.ID, "pending"), flatten(b.batchJobs(t)), "pending notices re-enqueued, not the delivered one")
	// Resuming enqueued the fan-out again; run it to the end.
	require.NoError(t, b.deps.fanout(ctx, b.client, c.ID))
	require.Len(t, b.campaignNoticeIDs(t, c.ID, ""), 10)
	require.Equal(t, b.campaignNoticeIDs(t, c.ID, "pending"), flatten(b.batchJobs(t)))

	// Two more are sent; then cancel: pending ones are cancelled, sent and delivered untouched.
	ids := b.campaignNoticeIDs(t, c.ID, "pending")
	_, err = b.pool.Exec(ctx, `UPDATE notices SET state = 'sent', sent_at = now() WHERE id = ANY ($1)`, ids[:2])
	require.NoError(t, err)
	n, err := CancelCampaign(ctx, b.pool, b.client, c.ID, "carol", "wrong template")
	require.NoError(t, err)
	require.EqualValues(t, 7, n)
	counts, err := campaigns.GetCounts(ctx, b.pool, c.ID)
	require.NoError(t, err)
	require.Equal(t, campaigns.Counts{Estimate: 10, Targeted: 10, Created: 10, Sent: 2, Delivered: 1, Cancelled: 7}, counts)
	require.Empty(t, b.batchJobs(t, "available", "scheduled"))
	_, err = ResumeCampaign(ctx, b.pool, b.client, c.ID, "carol", 2)
	require.ErrorContains(t, err, "cancelled")

	events, err := campaigns.Events(ctx, b.pool, c.ID)
	require.NoError(t, err)
	var seq []string
	for _, e := range events {
		seq = append(seq, e.Event+":"+e.Actor)
	}
	require.Equal(t, []string{"created:alice", "approved:bob", "started:alice", "paused:carol", "resumed:carol", "cancelled:carol"}, seq)
}

func TestRetryOnlyTransientFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := campaignSetup(t)
	b.seedRecipients(t, 5)
	c := b.approvedMailing(t, campaigns.Pace{})
	require.NoError(t, b.deps.fanout(ctx, b.client, c.ID))
	ids := b.campaignNoticeIDs(t, c.ID, "")
	require.Len(t, ids, 5)
	_, err := b.pool.Exec(ctx, `
		UPDATE notices SET state = 'delivered', delivered_at = now() WHERE id = $1;`, ids[0])
	require.NoError(t, err)
	// ids[1]: email failed transiently (retries exhausted) then no route.
	// ids[2]: email failed permanently (bad address).
	// ids[3]: render failure, no delivery.
	// ids[4]: delivered on SMS after a transient email failure: never retried.
	_, err = b.pool.Exec(ctx, `
		UPDATE notices SET state = 'no_route', state_reason = 'no usable channel' WHERE id = $1;`, ids[1])
	require.NoError(t, err)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO deliveries (notice_id, channel, provider, state, error_code, error) VALUES ($1, 'email', 'smtp', 'failed', '421', 'transient error 421: try later')`, []any{ids[1]}},
		{`UPDATE notices SET state = 'no_route' WHERE id = $1`, []any{ids[2]}},
		{`INSERT INTO deliveries (notice_id, channel, provider, state, error_code, error) VALUES ($1, 'email', 'smtp', 'failed', '550', 'permanent error 550: no such user')`, []any{ids[2]}},
		{`UPDATE notices SET state = 'failed', state_reason = 'render failed' WHERE id = $1`, []any{ids[3]}},
		{`UPDATE notices SET state = 'delivered', delivered_at = now() WHERE id = $1`, []any{ids[4]}},
		{`INSERT INTO deliveries (notice_id, channel, provider, state, error_code, error) VALUES ($1, 'email', 'smtp', 'failed', '421', 'transient error 421: try later')`, []any{ids[4]}},
		{`DELETE FROM river_job WHERE kind = 'deliver_batch'`, nil},
	} {
		_, err := b.pool.Exec(ctx, q.sql, q.args...)
		require.NoError(t, err, q.sql)
	}
	n, err := RetryCampaign(ctx, b.pool, b.client, c.ID, "dave", 0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, [][]int64{{ids[1]}}, b.batchJobs(t))
	var state, dstate string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT n.state, d.state FROM notices n JOIN deliveries d ON d.notice_id = n.id WHERE n.id = $1`, ids[1]).Scan(&state, &dstate))
	require.Equal(t, "pending", state)
	require.Equal(t, "pending", dstate)
	var retryEvents int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM delivery_events WHERE notice_id = $1 AND event = 'retry'`, ids[1]).Scan(&retryEvents))
	require.Equal(t, 1, retryEvents)
	counts, err := campaigns.GetCounts(ctx, b.pool, c.ID)
	require.NoError(t, err)
	require.EqualValues(t, 2, counts.Delivered)
	require.EqualValues(t, 1, counts.Pending)
	require.EqualValues(t, 1, counts.NoRoute)
	require.EqualValues(t, 1, counts.Failed)
	// Nothing left to retry.
	n, err = RetryCampaign(ctx, b.pool, b.client, c.ID, "dave", 0)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestFanoutStopsWhenNotRunning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := campaignSetup(t)
	b.seedRecipients(t, 3)
	c, _, err := campaigns.Create(ctx, b.pool, campaigns.New{Kind: campaigns.GeneralMailing,
		Data: map[string]any{"period": "x"}, CreatedBy: "alice"}, nil)
	require.NoError(t, err)
	// A draft is never fanned out, even if a job shows up.
	require.NoError(t, b.deps.fanout(ctx, b.client, c.ID))
	require.Empty(t, b.campaignNoticeIDs(t, c.ID, ""))
	_, err = StartCampaign(ctx, b.pool, b.client, c.ID, "alice", nil)
	require.True(t, isCode(err, campaigns.CodeApproval), "%v", err)
	var ce *campaigns.Error
	require.True(t, errors.As(err, &ce))
}

// TestResumeKeepsTheOneDayPlan: a one-day pace (08:00–20:00) started at
// 09:00 plans 11 hours on its day and the last hour the next morning.
// Paused and resumed at 11:00, the rest keeps that plan: spread over 11:00–
// 20:00 and at most the planned tail the next morning (issue 16: spread in
// wall-clock time until 09:00 the next day, half of it spilled into the next
// day at 08:00).
func TestResumeKeepsTheOneDayPlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := campaignSetup(t)
	b.seedRecipients(t, 100)
	pace := campaigns.Pace{Days: 1, WindowFrom: "08:00", WindowTo: "20:00"}
	c := b.approvedMailing(t, pace)
	b.deps.JobSize = 10
	require.NoError(t, b.deps.fanout(ctx, b.client, c.ID))
	_, err := PauseCampaign(ctx, b.pool, b.client, c.ID, "carol")
	require.NoError(t, err)

	paris := campaigns.Paris()
	day := time.Now().In(paris).AddDate(0, 0, 7)
	at := func(d, h int) time.Time { return time.Date(day.Year(), day.Month(), day.Day()+d, h, 0, 0, 0, paris) }
	c.StartedAt = ptrTime(at(0, 9))
	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	require.NoError(t, b.deps.requeuePending(ctx, tx, b.client, c, at(0, 11)))
	rows, err := tx.Query(ctx, `SELECT scheduled_at FROM river_job WHERE kind = 'deliver_batch' AND state = 'scheduled' ORDER BY id`)
	require.NoError(t, err)
	times, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
	require.NoError(t, err)
	require.Len(t, times, 9, "and the first job at once")
	nextDay := 0
	for i, ts := range times {
		require.True(t, ts.After(at(0, 11)), "job %d at %v", i, ts.In(paris))
		require.False(t, ts.After(at(1, 9)), "job %d at %v: not past the plan's end", i, ts.In(paris))
		if !ts.Before(at(0, 20)) {
			nextDay++
		}
	}
	require.LessOrEqual(t, nextDay, 1, "at most the planned last hour goes the next morning")
	require.True(t, times[7].After(at(0, 18)), "spread to the end of the day's window, not bunched: %v", times[7].In(paris))
}

func ptrTime(t time.Time) *time.Time { return &t }

// Issue 16: --job-size was ignored; the campaign's own job size now sets
// the notices per deliver_batch job of its fan-out.
func TestFanoutUsesCampaignJobSize(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := campaignSetup(t)
	b.seedRecipients(t, 10)
	c, err := CreateCampaignFromFile(ctx, b.pool, []byte("kind: general_mailing\ndata: {period: \"printemps 2027\"}\njob_size: 9\n"), "alice", 4, nil)
	require.NoError(t, err)
	require.Equal(t, 4, c.JobSize, "the flag wins over the file")
	_, err = ApproveCampaign(ctx, b.pool, c.ID, "bob")
	require.NoError(t, err)
	_, err = StartCampaign(ctx, b.pool, b.client, c.ID, "alice", nil)
	require.NoError(t, err)
	require.NoError(t, b.deps.fanout(ctx, b.client, c.ID))
	rows, err := b.pool.Query(ctx, `SELECT jsonb_array_length(args->'notice_ids') FROM river_job WHERE kind = 'deliver_batch' ORDER BY id`)
	require.NoError(t, err)
	sizes, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	require.Equal(t, []int{4, 4, 2}, sizes)
}

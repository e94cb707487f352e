package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/courrier-dev/courrier/agencies"
	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/ledger"
)

// CampaignDeps is what the campaign workers (fan-out, calendar, yearly
// sweep, life-event outreach) need.
type CampaignDeps struct {
	Pool     *pgxpool.Pool
	Calendar *campaigns.Calendar // nil: the embedded default calendar
	Config   *campaigns.Config
	// BatchSize is the number of audience members per fan-out transaction.
	// Default 5,000.
	BatchSize int
	// JobSize is the number of notices per deliver_batch job. Default 250.
	JobSize int
	// CalendarEvery is the longest time between two calendar passes (the
	// pass also runs at each occurrence's exact time). Default 5 minutes.
	CalendarEvery time.Duration
	Now           func() time.Time
	Logger        *slog.Logger
	// Agencies give each notice's Caf, whose local time a windowed pace
	// is read in; nil reads it in Europe/Paris.
	Agencies *agencies.Set

	// afterBatch, if set, runs after each committed fan-out batch (tests).
	afterBatch func(campaignID int64, batch int)
}

func (d *CampaignDeps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *CampaignDeps) batchSize() int {
	if d.BatchSize > 0 {
		return d.BatchSize
	}
	return 5000
}

func (d *CampaignDeps) jobSize() int {
	if d.JobSize > 0 {
		return d.JobSize
	}
	return 250
}

// jobSizeFor is the campaign's own job size if it has one, else the
// server's.
func (d *CampaignDeps) jobSizeFor(c *campaigns.Campaign) int {
	if c.JobSize > 0 {
		return c.JobSize
	}
	return d.jobSize()
}

func (d *CampaignDeps) log() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

func (d *CampaignDeps) calendar() (*campaigns.Calendar, error) {
	if d.Calendar != nil {
		return d.Calendar, nil
	}
	return campaigns.DefaultCalendar()
}

// FanoutArgs asks for a campaign's audience to be turned into notices and
// deliver_batch jobs.
type FanoutArgs struct {
	CampaignID int64 `json:"campaign_id"`
}

// Kind is the River job kind.
func (FanoutArgs) Kind() string { return "fanout" }

// InsertOpts: one live fan-out per campaign.
func (FanoutArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Priority: 2, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
		rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}}}
}

// FanoutWorker works FanoutArgs.
type FanoutWorker struct {
	river.WorkerDefaults[FanoutArgs]
	Deps *CampaignDeps
}

// Timeout: a fan-out of millions takes minutes; each batch commits on its
// own, so a timeout only means the retry resumes after the last batch.
func (w *FanoutWorker) Timeout(*river.Job[FanoutArgs]) time.Duration { return time.Hour }

// Work fans the campaign out batch by batch until its audience is walked,
// or the campaign is paused or cancelled.
func (w *FanoutWorker) Work(ctx context.Context, job *river.Job[FanoutArgs]) error {
	return w.Deps.fanout(ctx, river.ClientFromContext[pgx.Tx](ctx), job.Args.CampaignID)
}

func (d *CampaignDeps) fanout(ctx context.Context, client *river.Client[pgx.Tx], id int64) error {
	for batch := 1; ; batch++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		done, err := d.fanoutBatch(ctx, client, id)
		if err != nil {
			return fmt.Errorf("fan out campaign %d: %w", id, err)
		}
		if d.afterBatch != nil {
			d.afterBatch(id, batch)
		}
		if done {
			_, err := campaigns.CompleteIfDone(ctx, d.Pool, id)
			return err
		}
	}
}

// fanoutSQL inserts the notices of the next audience batch after the
// cursor, in one statement, and says how many audience members it walked
// and the last one's id. $1 cursor, $2 batch size, $3 notice kind, $4
// template, $5 data, $6 campaign id, $7 test; the audience's own
// parameters follow.
const fanoutSQL = `
WITH batch AS (
    SELECT r.id, r.caf FROM recipients r WHERE r.id > $1 AND %s ORDER BY r.id LIMIT $2
), ins AS (
    INSERT INTO notices (recipient_id, kind, template_key, data, idempotency_key, test, created_by, campaign_id, caf)
    SELECT b.id, $3, $4, $5::jsonb, 'campaign:' || $6::bigint || ':' || b.id, $7, 'campaign:' || $6::bigint, $6, b.caf
    FROM batch b ORDER BY b.id
    ON CONFLICT (idempotency_key, test) DO NOTHING
    RETURNING id
)
SELECT (SELECT count(*) FROM batch), coalesce((SELECT max(id) FROM batch), 0),
       coalesce((SELECT array_agg(id ORDER BY id) FROM ins), '{}')`

// fanoutBatch commits one batch: the notices, their deliver_batch jobs and
// the cursor, in one transaction. The campaign row is locked for the
// batch, so pause and cancel take effect between batches.
func (d *CampaignDeps) fanoutBatch(ctx context.Context, client *river.Client[pgx.Tx], id int64) (done bool, err error) {
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	c, err := campaigns.GetForUpdate(ctx, tx, id)
	if err != nil {
		return false, err
	}
	now := d.now()
	switch {
	case c.FanoutDoneAt != nil:
		return true, nil
	case c.State == campaigns.StateScheduled && (c.StartAt == nil || !c.StartAt.After(now)):
		if _, err := tx.Exec(ctx, `UPDATE campaigns SET state = 'running', updated_at = now() WHERE id = $1`, id); err != nil {
			return false, err
		}
	case c.State == campaigns.StateScheduled:
		return false, river.JobSnooze(c.StartAt.Sub(now))
	case c.State != campaigns.StateRunning:
		// Paused, cancelled or completed: stop; resume enqueues a new fan-out.
		return true, tx.Commit(ctx)
	}
	aud, err := c.Audience.Compile(7)
	if err != nil {
		return false, err
	}
	limit := d.batchSize()
	args := append([]any{c.Cursor, limit, string(c.NoticeKind), c.TemplateKey, c.Data, c.ID, c.Test}, aud.Args...)
	var walked, last int64
	var ids []int64
	if err := tx.QueryRow(ctx, fmt.Sprintf(fanoutSQL, aud.Where), args...).Scan(&walked, &last, &ids); err != nil {
		return false, fmt.Errorf("insert batch after recipient %d: %w", c.Cursor, err)
	}
	start := now
	if c.StartAt != nil {
		start = *c.StartAt
	}
	if c.StartedAt != nil && c.StartedAt.After(start) {
		start = *c.StartedAt
	}
	if err := d.enqueueBatches(ctx, tx, client, c, ids, c.Targeted, start, now); err != nil {
		return false, err
	}
	done = walked < int64(limit)
	if last == 0 {
		last = c.Cursor
	}
	if _, err := tx.Exec(ctx, `
		UPDATE campaigns SET fanout_cursor = $2, targeted = targeted + $3, updated_at = now(),
		       fanout_done_at = CASE WHEN $4 THEN now() ELSE NULL END
		WHERE id = $1`, id, last, walked, done); err != nil {
		return false, err
	}
	return done, tx.Commit(ctx)
}

// enqueueBatches inserts deliver_batch jobs for ids, JobSize notices each,
// scheduled by the campaign's pace: the job whose first notice is the k-th
// of the audience goes at pace.At(start, k/estimate). Each job carries the
// campaign id in its metadata, so that pause can withdraw it.
func (d *CampaignDeps) enqueueBatches(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], c *campaigns.Campaign,
	ids []int64, offset int64, start, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	meta := campaignMetadata(c.ID)
	size := d.jobSizeFor(c)
	estimate := max(c.AudienceEstimate, offset+int64(len(ids)))
	zones, err := d.noticeZones(ctx, tx, c, ids)
	if err != nil {
		return err
	}
	params := make([]river.InsertManyParams, 0, len(ids)/size+1)
	for i := 0; i < len(ids); i += size {
		frac := float64(offset+int64(i)) / float64(estimate)
		for _, part := range splitByZone(ids[i:min(i+size, len(ids))], zones) {
			opts := &river.InsertOpts{Metadata: meta}
			if at := c.Pace.In(part.loc).At(start, frac); at.After(now) {
				opts.ScheduledAt = at
			}
			params = append(params, river.InsertManyParams{Args: DeliverBatchArgs{NoticeIDs: part.ids}, InsertOpts: opts})
		}
	}
	if _, err := client.InsertManyFastTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue %d deliver_batch jobs: %w", len(params), err)
	}
	return nil
}

// noticeZones gives the time zone of each notice's Caf when the campaign's
// pace has a window and some Caf is not on Paris time; nil otherwise (every
// notice on Paris time).
func (d *CampaignDeps) noticeZones(ctx context.Context, tx pgx.Tx, c *campaigns.Campaign, ids []int64) (map[int64]*time.Location, error) {
	if d.Agencies == nil || (c.Pace.WindowFrom == "" && !c.Pace.WeekdaysOnly) {
		return nil, nil
	}
	local := false
	for _, a := range d.Agencies.Agencies {
		local = local || a.Location().String() != campaigns.Paris().String()
	}
	if !local {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `SELECT n.id, coalesce(n.caf, ''), r.postal_code FROM notices n
		JOIN recipients r ON r.id = n.recipient_id WHERE n.id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("notice Cafs: %w", err)
	}
	defer rows.Close()
	zones := make(map[int64]*time.Location, len(ids))
	for rows.Next() {
		var id int64
		var caf, postal string
		if err := rows.Scan(&id, &caf, &postal); err != nil {
			return nil, err
		}
		zones[id] = d.Agencies.Resolve(caf, postal).Location()
	}
	return zones, rows.Err()
}

type zonePart struct {
	loc *time.Location
	ids []int64
}

// splitByZone splits a job's notices by time zone, keeping their order;
// with no zones, one part on Paris time.
func splitByZone(ids []int64, zones map[int64]*time.Location) []zonePart {
	if zones == nil {
		return []zonePart{{campaigns.Paris(), ids}}
	}
	var parts []zonePart
	index := map[*time.Location]int{}
	for _, id := range ids {
		loc := zones[id]
		if loc == nil {
			loc = campaigns.Paris()
		}
		i, ok := index[loc]
		if !ok {
			i = len(parts)
			index[loc] = i
			parts = append(parts, zonePart{loc: loc})
		}
		parts[i].ids = append(parts[i].ids, id)
	}
	return parts
}

func campaignMetadata(id int64) []byte {
	return []byte(`{"campaign_id":` + strconv.FormatInt(id, 10) + `}`)
}

// CampaignActive reports whether a campaign's deliveries may go ahead (it
// is neither paused nor cancelled). Pause withdraws a campaign's waiting
// deliver_batch jobs, so a worker only meets a paused campaign for the
// batches already running when it was paused; a worker may call this
// (deliver_batch jobs carry {"campaign_id": N} in their metadata) to stop
// even those.
func CampaignActive(ctx context.Context, db campaigns.DBTX, campaignID int64) (bool, error) {
	return campaigns.Active(ctx, db, campaignID)
}

// StartCampaign starts an approved campaign (or a draft that needs no
// approval) and enqueues its fan-out, in one transaction. The fan-out uses
// the campaign's job size (campaigns.New.JobSize, SetCampaignJobSize).
func StartCampaign(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], id int64, actor string, cfg *campaigns.Config) (*campaigns.Campaign, error) {
	var c *campaigns.Campaign
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		c, err = startCampaignTx(ctx, tx, client, id, actor, time.Now(), cfg)
		return err
	})
	return c, err
}

func startCampaignTx(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], id int64, actor string, now time.Time, cfg *campaigns.Config) (*campaigns.Campaign, error) {
	c, err := campaigns.MarkStarted(ctx, tx, id, actor, now, cfg)
	if err != nil {
		return nil, err
	}
	opts := &river.InsertOpts{}
	if c.StartAt != nil && c.StartAt.After(now) {
		opts.ScheduledAt = *c.StartAt
	}
	if _, err := client.InsertTx(ctx, tx, FanoutArgs{CampaignID: id}, opts); err != nil {
		return nil, fmt.Errorf("enqueue fan-out of campaign %d: %w", id, err)
	}
	return c, nil
}

// withdrawJobs deletes the campaign's deliver_batch jobs that are not
// running yet.
func withdrawJobs(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], id int64) (int, error) {
	total := 0
	for {
		params := river.NewJobDeleteManyParams().First(1000).Kinds(DeliverBatchArgs{}.Kind()).
			States(rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStateRetryable, rivertype.JobStatePending).
			Where("metadata @> @meta::jsonb", river.NamedArgs{"meta": string(campaignMetadata(id))})
		res, err := client.JobDeleteManyTx(ctx, tx, params)
		if err != nil {
			return total, fmt.Errorf("withdraw deliver_batch jobs of campaign %d: %w", id, err)
		}
		total += len(res.Jobs)
		if len(res.Jobs) < 1000 {
			return total, nil
		}
	}
}

// PauseCampaign pauses a campaign: the fan-out stops after the batch in
// progress, and its deliver_batch jobs that have not started are
// withdrawn (their notices stay pending). Batches already being worked
// finish.
func PauseCampaign(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], id int64, actor string) (*campaigns.Campaign, error) {
	var c *campaigns.Campaign
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		if c, err = campaigns.MarkPaused(ctx, tx, id, actor); err != nil {
			return err
		}
		_, err = withdrawJobs(ctx, tx, client, id)
		return err
	})
	return c, err
}

// ResumeCampaign resumes a paused campaign: its pending notices get
// deliver_batch jobs again, spread over what is left of its pace (inside
// its window), and its fan-out continues from its cursor.
func ResumeCampaign(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], id int64, actor string, jobSize int) (*campaigns.Campaign, error) {
	var c *campaigns.Campaign
	d := &CampaignDeps{Pool: pool, JobSize: jobSize}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		now := time.Now()
		var err error
		if err := campaigns.SetJobSize(ctx, tx, id, jobSize); err != nil {
			return err
		}
		if c, err = campaigns.MarkResumed(ctx, tx, id, actor, now); err != nil {
			return err
		}
		// Withdraw first, so that resuming twice never doubles the jobs.
		if _, err := withdrawJobs(ctx, tx, client, id); err != nil {
			return err
		}
		if err := d.requeuePending(ctx, tx, client, c, now); err != nil {
			return err
		}
		if c.FanoutDoneAt == nil {
			opts := &river.InsertOpts{}
			if c.StartAt != nil && c.StartAt.After(now) {
				opts.ScheduledAt = *c.StartAt
			}
			if _, err := client.InsertTx(ctx, tx, FanoutArgs{CampaignID: id}, opts); err != nil {
				return err
			}
		}
		return nil
	})
	return c, err
}

// requeuePending gives the campaign's pending notices deliver_batch jobs,
// paged by id, spread over the open time left in the original pace.
func (d *CampaignDeps) requeuePending(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], c *campaigns.Campaign, now time.Time) error {
	var pending int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM notices WHERE campaign_id = $1 AND state = 'pending'`, c.ID).Scan(&pending); err != nil {
		return err
	}
	if pending == 0 {
		return nil
	}
	start := now
	if c.StartedAt != nil {
		start = *c.StartedAt
	}
	// The rest of the plan's open time, keeping the window.
	rest := campaigns.Pace{WindowFrom: c.Pace.WindowFrom, WindowTo: c.Pace.WindowTo, WeekdaysOnly: c.Pace.WeekdaysOnly}
	var after, done int64
	for {
		rows, err := tx.Query(ctx, `SELECT id FROM notices WHERE campaign_id = $1 AND state = 'pending' AND id > $2 ORDER BY id LIMIT 10000`, c.ID, after)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		size := d.jobSizeFor(c)
		var params []river.InsertManyParams
		for i := 0; i < len(ids); i += size {
			chunk := ids[i:min(i+size, len(ids))]
			at := rest.At(c.Pace.Remaining(start, now, float64(done+int64(i))/float64(pending)), 0)
			opts := &river.InsertOpts{Metadata: campaignMetadata(c.ID)}
			if at.After(now) {
				opts.ScheduledAt = at
			}
			params = append(params, river.InsertManyParams{Args: DeliverBatchArgs{NoticeIDs: chunk}, InsertOpts: opts})
		}
		if _, err := client.InsertManyFastTx(ctx, tx, params); err != nil {
			return err
		}
		done += int64(len(ids))
		after = ids[len(ids)-1]
	}
}

// CancelCampaign cancels a campaign: its pending notices become cancelled
// and their waiting jobs are withdrawn; notices already sending or sent are
// untouched. It returns how many notices it cancelled.
func CancelCampaign(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], id int64, actor, reason string) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		if n, err = campaigns.MarkCancelled(ctx, tx, id, actor, reason); err != nil {
			return err
		}
		_, err = withdrawJobs(ctx, tx, client, id)
		return err
	})
	return n, err
}

// RetryCampaign re-attempts the campaign's notices that ended failed or
// without a route because a channel failed for a transient cause (the
// delivery's recorded error is classified transient: timeouts, 4xx SMTP
// replies, provider 5xx, retries exhausted). Only those deliveries are
// reopened; permanent failures (bad address, render errors) and notices
// without any contact are left alone, and delivered notices are never
// touched. It returns the notices re-enqueued.
func RetryCampaign(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], id int64, actor string, jobSize int) (int, error) {
	var ids []int64
	d := &CampaignDeps{Pool: pool, JobSize: jobSize}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := campaigns.SetJobSize(ctx, tx, id, jobSize); err != nil {
			return err
		}
		c, err := campaigns.GetForUpdate(ctx, tx, id)
		if err != nil {
			return err
		}
		if c.State != campaigns.StateRunning && c.State != campaigns.StateCompleted {
			return &campaigns.Error{Code: campaigns.CodeConflict, Field: "state", Msg: fmt.Sprintf("campaign %d is %s: cannot retry", id, c.State)}
		}
		rows, err := tx.Query(ctx, `
			WITH retry AS (
			    SELECT n.id FROM notices n
			    WHERE n.campaign_id = $1 AND n.state IN ('failed', 'no_route')
			      AND EXISTS (SELECT 1 FROM deliveries d WHERE d.notice_id = n.id AND d.state = 'failed' AND d.error LIKE 'transient%')
			    FOR UPDATE OF n
			), reopened AS (
			    UPDATE deliveries d SET state = 'pending', final_at = NULL, updated_at = now()
			    FROM retry WHERE d.notice_id = retry.id AND d.state = 'failed' AND d.error LIKE 'transient%'
			    RETURNING d.id, d.notice_id
			), reset AS (
			    UPDATE notices n SET state = 'pending', state_reason = '', updated_at = now()
			    FROM retry WHERE n.id = retry.id
			)
			SELECT id, notice_id FROM reopened ORDER BY notice_id, id`, id)
		if err != nil {
			return fmt.Errorf("reopen failed notices of campaign %d: %w", id, err)
		}
		type reopened struct{ delivery, notice int64 }
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (reopened, error) {
			var x reopened
			return x, r.Scan(&x.delivery, &x.notice)
		})
		if err != nil {
			return err
		}
		now := time.Now()
		for _, x := range list {
			if err := ledger.AppendEvent(ctx, tx, ledger.Event{DeliveryID: x.delivery, NoticeID: x.notice, Event: "retry",
				Detail: "campaign " + strconv.FormatInt(id, 10) + " retried by " + actor, OccurredAt: now}); err != nil {
				return err
			}
			if len(ids) == 0 || ids[len(ids)-1] != x.notice {
				ids = append(ids, x.notice)
			}
		}
		if len(ids) == 0 {
			return campaigns.RecordEvent(ctx, tx, id, "retried", actor, "nothing to retry")
		}
		if c.State == campaigns.StateCompleted {
			if _, err := tx.Exec(ctx, `UPDATE campaigns SET state = 'running', completed_at = NULL, updated_at = now() WHERE id = $1`, id); err != nil {
				return err
			}
		}
		c.Pace = campaigns.Pace{} // retries go now
		if err := d.enqueueBatches(ctx, tx, client, c, ids, 0, now, now); err != nil {
			return err
		}
		return campaigns.RecordEvent(ctx, tx, id, "retried", actor, fmt.Sprintf("%d notices re-enqueued", len(ids)))
	})
	if err != nil {
		return 0, err
	}
	return len(ids), nil
}

// isCode reports whether err is a campaigns.Error with code.
func isCode(err error, code string) bool {
	var ce *campaigns.Error
	return errors.As(err, &ce) && ce.Code == code
}

package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/notices"
)

// OutreachArgs asks for a scan of newly recorded life events.
type OutreachArgs struct{}

// Kind is the River job kind.
func (OutreachArgs) Kind() string { return "life_event_outreach" }

// InsertOpts: one scan at a time.
func (OutreachArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Priority: 2, MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}}}
}

// OutreachWorker works OutreachArgs.
type OutreachWorker struct {
	river.WorkerDefaults[OutreachArgs]
	Deps *CampaignDeps
}

// Work scans the life events recorded since the last scan.
func (w *OutreachWorker) Work(ctx context.Context, job *river.Job[OutreachArgs]) error {
	_, err := w.Deps.ScanLifeEvents(ctx, river.ClientFromContext[pgx.Tx](ctx))
	return err
}

// OutreachResult says what OutreachForLifeEvent did.
type OutreachResult struct {
	NoticeID int64
	Created  bool      // false: the event already had its outreach notice
	Skipped  bool      // the beneficiary opted out: the notice is recorded cancelled
	SendAt   time.Time // when the deliver job is scheduled
}

// OutreachSkipReason is the state_reason of an outreach notice skipped
// because the beneficiary opted out of outreach.
const OutreachSkipReason = "skipped: beneficiary opted out of outreach"

// OutreachForLifeEvent creates, inside tx, the outreach notice of one life
// event (kind outreach_<event kind>, idempotency key "outreach:<event id>")
// and its deliver job, scheduled at the event's date plus the configured
// delay (10:00 Europe/Paris that day), and never before now. If the
// beneficiary opted out of outreach the notice is recorded as cancelled
// with OutreachSkipReason and no job is enqueued, so the skip is visible.
// Calling it again for the same event changes nothing.
func OutreachForLifeEvent(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], lifeEventID int64,
	settings campaigns.OutreachSettings, now time.Time) (OutreachResult, error) {
	var res OutreachResult
	var recipientID int64
	var kind string
	var occurred time.Time
	var optOut bool
	err := tx.QueryRow(ctx, `
		SELECT le.recipient_id, le.kind, le.occurred_on, r.outreach_opt_out
		FROM life_events le JOIN recipients r ON r.id = le.recipient_id WHERE le.id = $1`, lifeEventID).
		Scan(&recipientID, &kind, &occurred, &optOut)
	if errors.Is(err, pgx.ErrNoRows) {
		return res, fmt.Errorf("life event %d not found", lifeEventID)
	}
	if err != nil {
		return res, err
	}
	nk := notices.Kind("outreach_" + kind)
	if !nk.Outreach() {
		return res, fmt.Errorf("life event %d: no outreach for kind %q", lifeEventID, kind)
	}
	key := "outreach:" + strconv.FormatInt(lifeEventID, 10)
	// Calendar days, at 10:00 Paris time whatever the daylight saving.
	days := int(settings.Delay(kind) / (24 * time.Hour))
	res.SendAt = time.Date(occurred.Year(), occurred.Month(), occurred.Day()+days, 10, 0, 0, 0, campaigns.Paris())
	if res.SendAt.Before(now) {
		res.SendAt = now
	}
	n := notices.New{RecipientID: recipientID, Kind: nk, IdempotencyKey: key, CreatedBy: "life_event_outreach"}
	if optOut {
		res.Skipped = true
		res.NoticeID, res.Created, err = notices.Insert(ctx, tx, n)
		if err != nil || !res.Created {
			return res, err
		}
		_, err = tx.Exec(ctx, `UPDATE notices SET state = 'cancelled', state_reason = $2 WHERE id = $1`, res.NoticeID, OutreachSkipReason)
		return res, err
	}
	res.NoticeID, res.Created, err = EnqueueNotice(ctx, tx, client, n, &EnqueueOpts{NotBefore: res.SendAt})
	if err == nil && !res.Created {
		var reason string
		if err := tx.QueryRow(ctx, `SELECT state_reason FROM notices WHERE id = $1`, res.NoticeID).Scan(&reason); err != nil {
			return res, err
		}
		res.Skipped = reason == OutreachSkipReason
	}
	return res, err
}

// ScanLifeEvents creates the outreach of every life event recorded since
// the saved cursor (campaign_cursors "life_event_outreach"), in batches of
// 500 that each commit their notices, jobs and the cursor together. Events
// recorded in the last hour are looked at again whatever the cursor, so an
// event whose transaction committed after a later one was scanned is not
// missed (the idempotency key makes the second look harmless). It returns
// how many notices it created.
func (d *CampaignDeps) ScanLifeEvents(ctx context.Context, client *river.Client[pgx.Tx]) (int, error) {
	cal, err := d.calendar()
	if err != nil {
		return 0, err
	}
	if _, err := d.Pool.Exec(ctx, `INSERT INTO campaign_cursors (name) VALUES ('life_event_outreach') ON CONFLICT DO NOTHING`); err != nil {
		return 0, err
	}
	created := 0
	for {
		if err := ctx.Err(); err != nil {
			return created, err
		}
		var n int
		var more bool
		err := pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
			var cursor int64
			if err := tx.QueryRow(ctx, `SELECT last_id FROM campaign_cursors WHERE name = 'life_event_outreach' FOR UPDATE`).Scan(&cursor); err != nil {
				return err
			}
			now := d.now()
			rows, err := tx.Query(ctx, `
				SELECT le.id FROM life_events le
				WHERE le.id > $1
				   OR (le.recorded_at > $2 AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.idempotency_key = 'outreach:' || le.id))
				ORDER BY le.id LIMIT 500`, cursor, now.Add(-time.Hour))
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			for _, id := range ids {
				res, err := OutreachForLifeEvent(ctx, tx, client, id, cal.Outreach, now)
				if err != nil {
					return err
				}
				if res.Created {
					n++
				}
				cursor = max(cursor, id)
			}
			more = len(ids) == 500
			_, err = tx.Exec(ctx, `UPDATE campaign_cursors SET last_id = $1, updated_at = now() WHERE name = 'life_event_outreach'`, cursor)
			return err
		})
		if err != nil {
			return created, fmt.Errorf("life-event outreach: %w", err)
		}
		created += n
		if !more {
			return created, nil
		}
	}
}

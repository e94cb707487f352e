package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/notices"
)

// SweepArgs asks for the daily yearly statement sweep.
type SweepArgs struct{}

// Kind is the River job kind.
func (SweepArgs) Kind() string { return "yearly_sweep" }

// InsertOpts: one sweep at a time.
func (SweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Priority: 2, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// SweepWorker works SweepArgs.
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	Deps *CampaignDeps
}

// Timeout: the sweep walks every beneficiary; each batch commits.
func (w *SweepWorker) Timeout(*river.Job[SweepArgs]) time.Duration { return time.Hour }

// Work runs the sweep for today.
func (w *SweepWorker) Work(ctx context.Context, job *river.Job[SweepArgs]) error {
	_, _, err := w.Deps.Sweep(ctx, river.ClientFromContext[pgx.Tx](ctx))
	return err
}

// personalKinds are the notice kinds the at-least-once-a-year promise counts.
func personalKinds() []string {
	var out []string
	for _, k := range notices.Kinds {
		if k.Personal() {
			out = append(out, string(k))
		}
	}
	return out
}

// benefitLabels name benefit codes in yearly statements.
var benefitLabels = map[string]string{
	"AF": "Allocations familiales", "APL": "Aide personnalisée au logement", "ALF": "Allocation de logement familiale",
	"ALS": "Allocation de logement sociale", "RSA": "Revenu de solidarité active", "PA": "Prime d'activité",
	"AAH": "Allocation aux adultes handicapés", "PAJE": "Prestation d'accueil du jeune enfant",
	"CF": "Complément familial", "ARS": "Allocation de rentrée scolaire", "ASF": "Allocation de soutien familial",
	"AEEH": "Allocation d'éducation de l'enfant handicapé",
}

// sweepSQL selects the next batch of beneficiaries due a yearly statement,
// after the cursor $1: active, joined at or before the cutoff $2, with no
// personalised notice ($3) delivered after the cutoff, and none still open.
// "Older than the lead time" is delivered_at <= now − lead time. For each it
// computes the statement's anchor (the last delivery, or joining) and, for
// the calendar year $5, the benefits paid and their total: the monthly
// amount in force on the 1st of each month, from rights events.
const sweepSQL = `
WITH due AS (
    SELECT r.id, r.benefits,
           coalesce((SELECT max(n.delivered_at) FROM notices n
                     WHERE n.recipient_id = r.id AND n.kind = ANY ($3) AND n.state = 'delivered'), r.joined_at) AS anchor
    FROM recipients r
    WHERE r.active AND NOT r.test AND r.id > $1 AND r.joined_at <= $2
      AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.recipient_id = r.id AND n.kind = ANY ($3)
                      AND n.state = 'delivered' AND n.delivered_at > $2)
      AND NOT EXISTS (SELECT 1 FROM notices p WHERE p.recipient_id = r.id AND p.kind = ANY ($3)
                      AND p.state IN ('pending', 'sending', 'sent'))
    ORDER BY r.id
    LIMIT $4
)
SELECT d.id, d.benefits, d.anchor,
       coalesce(sum(m.amount), 0)::bigint,
       coalesce(array_agg(DISTINCT m.benefit) FILTER (WHERE m.amount > 0), '{}')
FROM due d
CROSS JOIN generate_series(make_date($5, 1, 1), make_date($5, 12, 1), interval '1 month') g(month)
LEFT JOIN LATERAL (
    SELECT DISTINCT ON (re.benefit) re.benefit,
           CASE WHEN re.event IN ('ended', 'refused') THEN 0 ELSE coalesce(re.amount_cents, 0) END AS amount
    FROM rights_events re
    WHERE re.recipient_id = d.id AND re.effective_on <= g.month::date
    ORDER BY re.benefit, re.effective_on DESC, re.id DESC
) m ON true
GROUP BY d.id, d.benefits, d.anchor
ORDER BY d.id`

// Sweep runs the yearly statement sweep for today: it creates a yearly
// statement notice, with its deliver_batch job, for every beneficiary due
// one (see sweepSQL), in batches that each commit notices, jobs and cursor
// together. The day's sweep is a campaign of kind yearly_sweep (key
// "yearly-sweep@<date>"), so its counts show like any campaign's, and a
// sweep interrupted resumes after its last batch.
//
// A notice's idempotency key is "yearly_statement:<recipient>:<anchor
// date>", the anchor being the beneficiary's last delivered personalised
// notice (or joining). That is once per recipient and 12-month period: a
// key per calendar year would skip a beneficiary whose previous statement
// went out early in the same calendar year.
func (d *CampaignDeps) Sweep(ctx context.Context, client *river.Client[pgx.Tx]) (campaignID int64, created int64, err error) {
	cal, err := d.calendar()
	if err != nil {
		return 0, 0, err
	}
	now := d.now()
	day := now.In(campaigns.Paris()).Format("2006-01-02")
	err = pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
		c, _, err := campaigns.Create(ctx, tx, campaigns.New{
			Name: "yearly statements " + day, Kind: campaigns.YearlySweep, CalendarKey: "yearly-sweep@" + day, CreatedBy: "system",
		}, d.Config)
		if err != nil {
			return err
		}
		campaignID = c.ID
		if c.State == campaigns.StateDraft {
			_, err = campaigns.MarkStarted(ctx, tx, c.ID, "system", now, d.Config)
		}
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("yearly sweep %s: %w", day, err)
	}
	cutoff := now.Add(-cal.Sweep.LeadTime())
	year := now.In(campaigns.Paris()).Year() - 1 // the last complete calendar year
	for {
		if err := ctx.Err(); err != nil {
			return campaignID, created, err
		}
		n, done, err := d.sweepBatch(ctx, client, campaignID, cutoff, year, cal.Sweep.Batch())
		if err != nil {
			return campaignID, created, fmt.Errorf("yearly sweep %s: %w", day, err)
		}
		created += n
		if done {
			_, err := campaigns.CompleteIfDone(ctx, d.Pool, campaignID)
			return campaignID, created, err
		}
	}
}

func (d *CampaignDeps) sweepBatch(ctx context.Context, client *river.Client[pgx.Tx], campaignID int64, cutoff time.Time, year, limit int) (created int64, done bool, err error) {
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		return 0, false, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	c, err := campaigns.GetForUpdate(ctx, tx, campaignID)
	if err != nil {
		return 0, false, err
	}
	if c.FanoutDoneAt != nil || c.State != campaigns.StateRunning {
		return 0, true, nil
	}
	rows, err := tx.Query(ctx, sweepSQL, c.Cursor, cutoff, personalKinds(), limit, year)
	if err != nil {
		return 0, false, fmt.Errorf("select due beneficiaries: %w", err)
	}
	var (
		rids []int64
		keys []string
		data [][]byte
		last = c.Cursor
	)
	for rows.Next() {
		var id, cents int64
		var held, paid []string
		var anchor time.Time
		if err := rows.Scan(&id, &held, &anchor, &cents, &paid); err != nil {
			rows.Close()
			return 0, false, err
		}
		// Without a payment on record, the statement lists the rights held
		// and says the amounts are not in it: never "versées" with 0,00 €.
		known := len(paid) > 0
		if !known {
			paid = held
		}
		labels := make([]any, 0, len(paid))
		for _, b := range paid {
			if l, ok := benefitLabels[b]; ok {
				b = l
			}
			labels = append(labels, b)
		}
		body, err := json.Marshal(map[string]any{"year": year, "benefits": labels, "total_paid": float64(cents) / 100, "paid_known": known})
		if err != nil {
			rows.Close()
			return 0, false, err
		}
		rids = append(rids, id)
		keys = append(keys, "yearly_statement:"+strconv.FormatInt(id, 10)+":"+anchor.In(campaigns.Paris()).Format("2006-01-02"))
		data = append(data, body)
		last = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, false, err
	}
	var ids []int64
	if len(rids) > 0 {
		ins, err := tx.Query(ctx, `
			INSERT INTO notices (recipient_id, kind, template_key, data, idempotency_key, created_by, campaign_id, caf)
			SELECT u.rid, 'yearly_statement', 'yearly_statement', u.data, u.key, 'yearly_sweep', $4, r.caf
			FROM unnest($1::bigint[], $2::text[], $3::jsonb[]) AS u(rid, key, data) JOIN recipients r ON r.id = u.rid
			ORDER BY u.rid
			ON CONFLICT (idempotency_key, test) DO NOTHING
			RETURNING id`, rids, keys, data, campaignID)
		if err != nil {
			return 0, false, fmt.Errorf("insert yearly statements: %w", err)
		}
		if ids, err = pgx.CollectRows(ins, pgx.RowTo[int64]); err != nil {
			return 0, false, fmt.Errorf("insert yearly statements: %w", err)
		}
	}
	now := d.now()
	if err := d.enqueueBatches(ctx, tx, client, c, ids, c.Targeted, now, now); err != nil {
		return 0, false, err
	}
	done = len(rids) < limit
	if _, err := tx.Exec(ctx, `
		UPDATE campaigns SET fanout_cursor = $2, targeted = targeted + $3, updated_at = now(),
		       fanout_done_at = CASE WHEN $4 THEN now() ELSE NULL END
		WHERE id = $1`, campaignID, last, len(rids), done); err != nil {
		return 0, false, err
	}
	return int64(len(ids)), done, tx.Commit(ctx)
}

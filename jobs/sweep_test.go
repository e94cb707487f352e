package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/templates"
)

func TestYearlySweepBoundaries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := campaignSetup(t)
	now := time.Date(2027, 3, 15, 10, 0, 0, 0, time.UTC)
	cal, err := campaigns.DefaultCalendar()
	require.NoError(t, err)
	cal.Sweep.BatchSize = 2 // several batches
	b.deps.Calendar, b.deps.Now = cal, func() time.Time { return now }

	add := func(ref string, joined time.Time, active bool) int64 {
		var id int64
		require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO recipients (ref, benefits, joined_at, active) VALUES ($1, '{RSA}', $2, $3) RETURNING id`,
			ref, joined, active).Scan(&id))
		return id
	}
	delivered := func(rid int64, kind string, at time.Time) {
		_, err := b.pool.Exec(ctx, `INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, state, sent_at, delivered_at)
			VALUES ($1, $2, $2, $3, 'delivered', $4, $4)`, rid, kind, fmt.Sprintf("%s-%d-%d", kind, rid, at.Unix()), at)
		require.NoError(t, err)
	}
	day := 24 * time.Hour
	old := now.AddDate(-3, 0, 0)
	d329 := add("D329", old, true)
	delivered(d329, "rights_changed", now.Add(-329*day))
	d330 := add("D330", old, true)
	delivered(d330, "yearly_statement", now.Add(-330*day))
	d331 := add("D331", old, true)
	delivered(d331, "rights_opened", now.Add(-331*day))
	delivered(d331, "general_information", now.Add(-10*day)) // not personalised: does not count
	pending := add("PENDING", old, true)
	delivered(pending, "rights_opened", now.Add(-400*day))
	_, err = b.pool.Exec(ctx, `INSERT INTO notices (recipient_id, kind, template_key, idempotency_key) VALUES ($1, 'no_rights', 'no_rights', 'pending-nr')`, pending)
	require.NoError(t, err)
	never := add("NEVER", now.Add(-330*day), true)
	add("RECENT", now.Add(-329*day), true)
	add("INACTIVE", old, false)
	// D330 had RSA at 500 € a month from July 2026.
	_, err = b.pool.Exec(ctx, `INSERT INTO rights_events (external_id, recipient_id, event, benefit, amount_cents, effective_on)
		VALUES ('r1', $1, 'opened', 'RSA', 50000, '2026-07-01')`, d330)
	require.NoError(t, err)

	id, created, err := b.deps.Sweep(ctx, b.client)
	require.NoError(t, err)
	require.EqualValues(t, 3, created)
	rows, err := b.pool.Query(ctx, `SELECT recipient_id FROM notices WHERE campaign_id = $1 ORDER BY recipient_id`, id)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	require.Equal(t, []int64{d330, d331, never}, got, "day 329 no, 330 yes, 331 yes; pending and recent and inactive no")

	var key string
	var data []byte
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT idempotency_key, data FROM notices WHERE campaign_id = $1 AND recipient_id = $2`, id, d330).Scan(&key, &data))
	require.Equal(t, fmt.Sprintf("yearly_statement:%d:%s", d330, now.Add(-330*day).In(campaigns.Paris()).Format("2006-01-02")), key)
	var body map[string]any
	require.NoError(t, json.Unmarshal(data, &body))
	require.Equal(t, map[string]any{"year": 2026.0, "benefits": []any{"Revenu de solidarité active"}, "total_paid": 3000.0, "paid_known": true}, body)
	require.Equal(t, got, recipientsOf(t, b, flatten(b.batchJobs(t))))

	// NEVER has rights in the registry but no payment on record: the
	// statement lists them as held and gives no total, and says the same
	// thing in every channel (issue 16: "versées" with a total of 0,00 €).
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT data FROM notices WHERE campaign_id = $1 AND recipient_id = $2`, id, never).Scan(&data))
	var none map[string]any
	require.NoError(t, json.Unmarshal(data, &none))
	require.Equal(t, false, none["paid_known"])
	tset, err := templates.Load(nil)
	require.NoError(t, err)
	for _, ch := range []string{"email", "letter", "sms"} {
		r, err := tset.Render("yearly_statement", ch, templates.Input{Recipient: templates.Recipient{Ref: "NEVER"}, Data: none})
		require.NoError(t, err)
		require.NotContains(t, r.Text, "0,00", ch)
		require.NotContains(t, r.Text, "versées en", ch)
		if ch != "sms" {
			require.Contains(t, r.Text, "Revenu de solidarité active", ch)
			require.Contains(t, r.Text, "ne figurent pas dans ce relevé", ch)
		}
	}

	// The data satisfies the template.
	set, err := (&campaigns.Config{}).TemplateSet()
	require.NoError(t, err)
	require.NoError(t, campaigns.CheckData(set, "yearly_statement", body))

	// Again the same day: nothing new (statements pending).
	_, created, err = b.deps.Sweep(ctx, b.client)
	require.NoError(t, err)
	require.Zero(t, created)
	// The next day, day 329 has become day 330, for D329 and RECENT.
	now = now.Add(day)
	id2, created, err := b.deps.Sweep(ctx, b.client)
	require.NoError(t, err)
	require.EqualValues(t, 2, created)
	require.NotEqual(t, id, id2, "one sweep campaign per day")
}

func recipientsOf(t *testing.T, b *campaignBundle, noticeIDs []int64) []int64 {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT recipient_id FROM notices WHERE id = ANY ($1) ORDER BY recipient_id`, noticeIDs)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	return out
}

func TestLifeEventOutreach(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := campaignSetup(t)
	now := time.Date(2027, 3, 15, 8, 0, 0, 0, campaigns.Paris())
	b.deps.Now = func() time.Time { return now }
	_, err := b.pool.Exec(ctx, `
		INSERT INTO recipients (ref, outreach_opt_out) VALUES ('O1', false), ('O2', false), ('O3', true);
		INSERT INTO life_events (external_id, recipient_id, kind, occurred_on) VALUES
		  ('birth', (SELECT id FROM recipients WHERE ref = 'O1'), 'first_birth', '2027-03-14'),
		  ('death', (SELECT id FROM recipients WHERE ref = 'O2'), 'child_death', '2027-03-15'),
		  ('sep',   (SELECT id FROM recipients WHERE ref = 'O3'), 'separation', '2027-03-01');`)
	require.NoError(t, err)

	n, err := b.deps.ScanLifeEvents(ctx, b.client)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	n, err = b.deps.ScanLifeEvents(ctx, b.client)
	require.NoError(t, err)
	require.Zero(t, n, "once per event")

	type row struct {
		kind, state, reason string
		at                  *time.Time
	}
	rows, err := b.pool.Query(ctx, `
		SELECT n.kind, n.state, n.state_reason, j.scheduled_at
		FROM notices n LEFT JOIN river_job j ON j.kind = 'deliver' AND (j.args->>'notice_id')::bigint = n.id
		ORDER BY n.id`)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, r.Scan(&x.kind, &x.state, &x.reason, &x.at)
	})
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Equal(t, "outreach_first_birth", got[0].kind)
	require.WithinDuration(t, now, *got[0].at, time.Second, "no delay for a birth recorded a day later")
	require.Equal(t, "outreach_child_death", got[1].kind)
	require.True(t, time.Date(2027, 3, 30, 10, 0, 0, 0, campaigns.Paris()).Equal(*got[1].at), "15 days after the death, %v", got[1].at)
	require.Equal(t, row{kind: "outreach_separation", state: "cancelled", reason: OutreachSkipReason}, got[2], "opt-out recorded as skipped, no job")

	// Called directly (e.g. by intake) for an event already handled.
	var le int64
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT id FROM life_events WHERE external_id = 'sep'`).Scan(&le))
	require.NoError(t, pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		res, err := OutreachForLifeEvent(ctx, tx, b.client, le, campaigns.OutreachSettings{}, now)
		require.False(t, res.Created)
		require.True(t, res.Skipped)
		return err
	}))
}

type nopWorker[T river.JobArgs] struct{ river.WorkerDefaults[T] }

func (nopWorker[T]) Work(context.Context, *river.Job[T]) error { return nil }

func TestCalendarTwoClientsCreateOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := campaignSetup(t)
	b.seedRecipients(t, 30)
	// A calendar whose first mailing was due an hour ago (within catch-up).
	due := time.Now().Add(-time.Hour).In(campaigns.Paris())
	src := fmt.Sprintf(`
allow_fewer_general_mailings: true
general_mailings:
  - id: lettre-test
    date: %s
    time: "%s"
    data: {period: "test"}
    created_by: alice
    approved_by: bob
yearly_sweep: {disabled: true}
outreach: {disabled: true}
`, due.Format("2006-01-02"), due.Format("15:04"))
	cal, err := campaigns.ParseCalendar([]byte(src), nil)
	require.NoError(t, err)

	newClient := func(id string) *river.Client[pgx.Tx] {
		workers := river.NewWorkers()
		require.NoError(t, AddCampaignWorkers(workers, b.pool, &CampaignDeps{Calendar: cal}))
		river.AddWorker(workers, nopWorker[DeliverBatchArgs]{})
		client, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{
			ID: id, Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 5}},
			Workers: workers, PeriodicJobs: CampaignPeriodicJobs(cal), FetchCooldown: 5 * time.Millisecond,
			FetchPollInterval: 50 * time.Millisecond, TestOnly: true,
		})
		require.NoError(t, err)
		return client
	}
	clients := []*river.Client[pgx.Tx]{newClient("one"), newClient("two")}
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() { require.NoError(t, c.Start(ctx)) })
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range clients {
			stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = c.Stop(stopCtx)
			cancel()
		}
	})
	// Racing leaders, simulated: passes run concurrently too.
	var passes sync.WaitGroup
	for i := range 4 {
		passes.Go(func() {
			_, err := (&CampaignDeps{Pool: b.pool, Calendar: cal}).CalendarPass(ctx, clients[i%2])
			require.NoError(t, err)
		})
	}
	passes.Wait()

	require.Eventually(t, func() bool {
		var done bool
		err := b.pool.QueryRow(ctx, `SELECT coalesce(bool_and(fanout_done_at IS NOT NULL), false) FROM campaigns WHERE calendar_key LIKE 'lettre-test@%'`).Scan(&done)
		return err == nil && done
	}, 60*time.Second, 50*time.Millisecond)
	var campaignsN, started, noticesN, distinct int
	require.NoError(t, b.pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM campaigns WHERE calendar_key LIKE 'lettre-test@%'),
		       (SELECT count(*) FROM campaign_events WHERE event = 'started'),
		       (SELECT count(*) FROM notices), (SELECT count(DISTINCT recipient_id) FROM notices)`).
		Scan(&campaignsN, &started, &noticesN, &distinct))
	require.Equal(t, 1, campaignsN)
	require.Equal(t, 1, started)
	require.Equal(t, 30, noticesN)
	require.Equal(t, 30, distinct)
}

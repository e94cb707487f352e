package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/agencies"
	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/requests"
	"github.com/courrier-dev/courrier/templates"
)

// TestNoticesCarryTheCaf checks that every insert path (single notice,
// campaign fan-out, yearly sweep) records the beneficiary's Caf.
func TestNoticesCarryTheCaf(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := campaignSetup(t)
	for _, r := range []*recipients.Recipient{
		{Ref: "P1", Email: "p1@exemple.fr", PostalCode: "75011", Active: true, ConsentEmail: true, Benefits: []string{"AF"}},
		{Ref: "R1", Email: "r1@exemple.fr", PostalCode: "97400", Active: true, ConsentEmail: true, Benefits: []string{"AF"},
			JoinedAt: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		_, _, err := recipients.Upsert(ctx, b.pool, r)
		require.NoError(t, err)
	}
	p1, _ := recipients.GetByRef(ctx, b.pool, "P1")
	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	single, _, err := EnqueueNotice(ctx, tx, b.client, notices.New{RecipientID: p1.ID, Kind: notices.ReminderGeneric,
		IdempotencyKey: "caf-single", Data: templates.SampleData(string(notices.ReminderGeneric))}, nil)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))

	c := b.approvedMailing(t, campaigns.Pace{})
	err = b.deps.fanout(ctx, b.client, c.ID)
	require.NoError(t, err)

	now := time.Date(2027, 3, 15, 10, 0, 0, 0, time.UTC)
	cal, err := campaigns.DefaultCalendar()
	require.NoError(t, err)
	b.deps.Calendar, b.deps.Now = cal, func() time.Time { return now }
	sweep, _, err := b.deps.Sweep(ctx, b.client)
	require.NoError(t, err)

	cafOf := func(where string, arg any) map[string]string {
		rows, err := b.pool.Query(ctx, `SELECT r.ref, coalesce(n.caf, '') FROM notices n JOIN recipients r ON r.id = n.recipient_id WHERE `+where, arg)
		require.NoError(t, err)
		out := map[string]string{}
		for rows.Next() {
			var ref, caf string
			require.NoError(t, rows.Scan(&ref, &caf))
			out[ref] = caf
		}
		return out
	}
	require.Equal(t, map[string]string{"P1": "751"}, cafOf("n.id = $1", single))
	require.Equal(t, map[string]string{"P1": "751", "R1": "974"}, cafOf("n.campaign_id = $1", c.ID))
	require.Equal(t, map[string]string{"R1": "974"}, cafOf("n.campaign_id = $1", sweep))
}

// TestRequestDeadlinesInTheCafsCalendar counts working days in the Caf's
// time zone and holidays: La Réunion's 20 December is not a working day
// there, and the deadline is 10:00 Réunion time, not Paris time.
func TestRequestDeadlinesInTheCafsCalendar(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	reunion, _ := time.LoadLocation("Indian/Reunion")
	paris, _ := time.LoadLocation("Europe/Paris")
	received := time.Date(2027, 12, 17, 10, 0, 0, 0, reunion) // Friday
	s := requests.Settings{WorkingDays: true, AckDays: 1}
	for ref, want := range map[string]time.Time{
		"974": time.Date(2027, 12, 21, 10, 0, 0, 0, reunion), // Monday 20 December skipped
		"751": time.Date(2027, 12, 20, 7, 0, 0, 0, paris),    // same instant, Paris calendar
	} {
		postal := map[string]string{"974": "97400", "751": "75011"}[ref]
		rid := b.recipient(t, "D"+ref, func(r *recipients.Recipient) { r.PostalCode = postal })
		var res *RequestResult
		require.NoError(t, pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
			var err error
			res, err = ReceiveRequest(ctx, tx, b.client, requests.New{ExternalID: "DEM-" + ref, RecipientID: rid,
				Kind: requests.KindBenefitClaim, ReceivedAt: received, CreatedBy: "test"}, "", s, false, received)
			return err
		}))
		require.True(t, want.Equal(res.Request.AckDueBy), "%s: want %v, got %v", ref, want, res.Request.AckDueBy)
	}
}

// TestPaceWindowInTheCafsLocalTime: a mailing paced 08:00–20:00 schedules
// the notices of La Réunion's beneficiaries between 08:00 and 20:00 in La
// Réunion, and Paris's in Paris.
func TestPaceWindowInTheCafsLocalTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := campaignSetup(t)
	b.deps.Agencies = agencies.Example()
	b.deps.JobSize = 5
	for i := range 100 {
		postal := "75011"
		if i%2 == 1 {
			postal = "97400"
		}
		_, _, err := recipients.Upsert(ctx, b.pool, &recipients.Recipient{Ref: fmt.Sprintf("Z%03d", i), Email: fmt.Sprintf("z%d@exemple.fr", i),
			PostalCode: postal, Active: true, ConsentEmail: true, Benefits: []string{"AF"}})
		require.NoError(t, err)
	}
	c := b.approvedMailing(t, campaigns.Pace{Days: 1, WindowFrom: "08:00", WindowTo: "20:00"})
	require.NoError(t, b.deps.fanout(ctx, b.client, c.ID))

	rows, err := b.pool.Query(ctx, `SELECT args, scheduled_at FROM river_job WHERE kind = 'deliver_batch' ORDER BY id`)
	require.NoError(t, err)
	defer rows.Close()
	zones := map[string]*time.Location{"75011": campaigns.Paris(), "97400": b.deps.Agencies.Get("974").Location()}
	jobs := map[string]int{}
	for rows.Next() {
		var raw []byte
		var at time.Time
		require.NoError(t, rows.Scan(&raw, &at))
		var args DeliverBatchArgs
		require.NoError(t, json.Unmarshal(raw, &args))
		var postals []string
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT array_agg(DISTINCT r.postal_code) FROM notices n JOIN recipients r ON r.id = n.recipient_id
			WHERE n.id = ANY($1)`, args.NoticeIDs).Scan(&postals))
		require.Len(t, postals, 1, "one time zone per job")
		local := at.In(zones[postals[0]])
		if at.After(time.Now().Add(time.Minute)) { // scheduled, not sent at once
			require.True(t, local.Hour() >= 8 && local.Hour() < 20, "%s job at %s local", postals[0], local)
		}
		jobs[postals[0]]++
	}
	require.GreaterOrEqual(t, jobs["97400"], 10)
	require.GreaterOrEqual(t, jobs["75011"], 10)
}

package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
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

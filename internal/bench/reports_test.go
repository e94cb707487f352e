package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/compliance"
	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/ledger"
)

// TestReportsSeedAsSealed runs the reports phase on a small history, then
// seals that history with the real sealer: no projection row may change
// (the seeding builds them as sealing does), and verify agrees with every
// projection, the coverage included.
func TestReportsSeedAsSealed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	rep, err := Run(ctx, pool, Options{Recipients: 600, HistoryEvents: 6000, Phases: []string{"reports"}})
	require.NoError(t, err)
	phases := map[string]Phase{}
	for _, p := range rep.Phases {
		phases[p.Name] = p
	}
	seed := phases["reports: seed history"]
	require.GreaterOrEqual(t, seed.Count, 6000)
	for _, rule := range compliance.RuleNames() {
		p, ok := phases["report "+rule]
		require.True(t, ok, rule)
		require.Contains(t, rep.Compliance, rule)
		require.Contains(t, rep.Compliance, rule+" (from proj_notices)")
		if rule == compliance.RuleYearlyNotice || rule == compliance.RuleGeneralMailings {
			require.Contains(t, p.Note, "from proj_coverage", rule)
		}
	}

	snapshot := func() map[string]string {
		out := map[string]string{}
		for table, key := range map[string]string{"proj_notices": "notice_id", "proj_requests": "request", "proj_coverage": "recipient_id, caf, mode"} {
			var sum string
			var n int
			require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY `+key+`)), '') FROM `+table+` t`).Scan(&n, &sum))
			require.Positive(t, n, table)
			out[table] = sum
		}
		return out
	}
	before := snapshot()
	priv, _, err := ledger.GenerateKey("courrier-bench-test")
	require.NoError(t, err)
	key, err := ledger.ParseKey(priv)
	require.NoError(t, err)
	sealed, err := ledger.Seal(ctx, pool, ledger.SealOptions{Key: key, Batch: 50_000, Settle: time.Nanosecond})
	require.NoError(t, err)
	require.Equal(t, seed.Count, sealed)
	require.Equal(t, before, snapshot(), "the sealer changed projections the seeding wrote")
	res, err := ledger.Verify(ctx, pool, ledger.VerifyOptions{Verifier: key.Verifier})
	require.NoError(t, err)
	require.True(t, res.OK, "%v", res.Breaks)
	require.Positive(t, res.Coverage)

	// The reports of the seeded year have something to say.
	y := time.Now().In(compliance.Paris).Year()
	p, err := compliance.ParsePeriod(fmt.Sprintf("%d-01-01", y), fmt.Sprintf("%d-12-31", y))
	require.NoError(t, err)
	r, err := compliance.Run(ctx, pool, compliance.RuleYearlyNotice, p)
	require.NoError(t, err)
	due, _ := r.Metric("beneficiaries_due")
	covered, _ := r.Metric("covered")
	require.EqualValues(t, 600, due)
	require.Positive(t, covered)
	require.Less(t, covered, due)
}

package ledger_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/ledger"
)

// Plus12 must be PostgreSQL's "12 calendar months later in Paris" to the
// microsecond, or the coverage projection and the reports computed from the
// notices would disagree: 29 February, the daylight-saving changes (a wall
// time that does not exist or exists twice a year later), random instants.
func TestPlus12MatchesPostgreSQL(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := t.Context()
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	var ts []time.Time
	for _, s := range []string{"2028-02-29T10:00:00", "2027-06-01T10:00:00", "2026-03-29T02:30:00", "2026-10-25T02:30:00",
		"2025-03-29T02:30:00", "2025-10-26T02:30:00", "2026-10-24T02:30:00", "2026-03-28T02:59:59", "2027-03-28T02:00:00"} {
		l, err := time.ParseInLocation("2006-01-02T15:04:05", s, paris)
		require.NoError(t, err)
		ts = append(ts, l, l.Add(-time.Hour), l.Add(time.Hour), l.Add(-time.Microsecond))
	}
	// Every half hour around each change of 2025-2027, and random instants.
	for _, day := range []string{"2025-03-30", "2025-10-26", "2026-03-29", "2026-10-25", "2027-03-28", "2027-10-31"} {
		d, err := time.ParseInLocation(time.DateOnly, day, paris)
		require.NoError(t, err)
		for h := -48; h <= 48; h++ {
			ts = append(ts, d.Add(time.Duration(h)*30*time.Minute-365*24*time.Hour), d.Add(time.Duration(h)*30*time.Minute-366*24*time.Hour))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 2000 {
		ts = append(ts, base.Add(time.Duration(rng.Int64N(int64(5*365*24*time.Hour)))).Truncate(time.Microsecond))
	}
	var want []time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT array_agg((t AT TIME ZONE 'Europe/Paris' + interval '12 months') AT TIME ZONE 'Europe/Paris' ORDER BY o)
		FROM unnest($1::timestamptz[]) WITH ORDINALITY AS x(t, o)`, ts).Scan(&want))
	for i, x := range ts {
		require.True(t, want[i].Equal(ledger.Plus12(x)), "Plus12(%s) = %s, PostgreSQL says %s", x.UTC(), ledger.Plus12(x).UTC(), want[i].UTC())
	}
}

func TestTamperCoverageEdited(t *testing.T) {
	t.Parallel()
	b := sealed(t, 2)
	res := b.verify(t)
	require.True(t, res.OK, "%v", res.Breaks)
	require.Positive(t, res.Coverage)
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM proj_coverage WHERE recipient = 'R0001' AND mode = 'any'`).Scan(&n))
	require.Equal(t, 1, n)
	// Reports read the coverage projection: extending a beneficiary's
	// coverage by a year is named, with the beneficiary.
	_, err := b.pool.Exec(b.ctx, `UPDATE proj_coverage SET span_until = array[span_until[1] + interval '1 year']
		WHERE recipient = 'R0001' AND mode = 'any'`)
	require.NoError(t, err)
	requireBreak(t, b.verify(t), ledger.BreakProjection, "coverage projection", "beneficiary R0001", "any evidence", "coverage spans")
	// A row no delivered notice supports is named too.
	_, err = b.pool.Exec(b.ctx, `INSERT INTO proj_coverage (recipient_id, caf, mode, recipient, span_from, span_until)
		VALUES (999999, '751', 'proven', 'R9999', array[now()], array[now() + interval '1 year'])`)
	require.NoError(t, err)
	requireBreak(t, b.verify(t), ledger.BreakProjection, "beneficiary R9999", "no sealed delivered notice supports this row")
	// So is a deleted row.
	_, err = b.pool.Exec(b.ctx, `DELETE FROM proj_coverage WHERE recipient = 'R0001'`)
	require.NoError(t, err)
	requireBreak(t, b.verify(t), ledger.BreakProjection, "beneficiary R0001", "row missing")
}

// A database upgraded to the coverage projection with everything already
// sealed: the next seal builds the projection even though it has no new
// event to seal, so verify (and the reports) find every row.
func TestUpgradeBuildsCoverageWithNothingNewToSeal(t *testing.T) {
	t.Parallel()
	b := sealed(t, 2)
	// As after migration 0090 on a ledger sealed before it.
	_, err := b.pool.Exec(b.ctx, `DELETE FROM proj_coverage`)
	require.NoError(t, err)
	_, err = b.pool.Exec(b.ctx, `INSERT INTO proj_coverage_rebuild DEFAULT VALUES`)
	require.NoError(t, err)
	requireBreak(t, b.verify(t), ledger.BreakProjection, "beneficiary R0001", "row missing")

	require.Zero(t, b.seal(t, 0), "nothing new to seal")
	res := b.verify(t)
	require.True(t, res.OK, "%v", res.Breaks)
	require.Positive(t, res.Coverage)
	var marked bool
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT EXISTS (SELECT 1 FROM proj_coverage_rebuild)`).Scan(&marked))
	require.False(t, marked)
}

package bench

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

// TestBenchSmallRunIsCorrect runs every phase on 2,000 beneficiaries and
// checks correctness only: every notice delivered exactly once to the sink,
// and the ledger agrees. Speed is not asserted.
func TestBenchSmallRunIsCorrect(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	rep, err := Run(context.Background(), pool, Options{Recipients: 2000, BatchSize: 100, FanoutBatch: 500, Workers: 50})
	require.NoError(t, err)
	require.Len(t, rep.Checks, 3)
	names := map[string]Phase{}
	for _, p := range rep.Phases {
		names[p.Name] = p
	}
	for _, want := range []string{"seed beneficiaries", "CSV import (new beneficiaries)", "river baseline (no-op jobs)", "fan-out only (notices + jobs)", "end to end email", "end to end sms",
		"letters (2-page PDF rendered and hashed)", "letters merged batch PDF (one file, streamed)"} {
		p, ok := names[want]
		require.True(t, ok, want)
		require.Equal(t, 2000, p.Count, want)
		require.Positive(t, p.PerSecond, want)
	}
	require.Contains(t, rep.Ratios, "end to end email")
	for _, want := range []string{"bounces over SMTP (DSN → ledger)", "bounces over IMAP (DSN → ledger)"} {
		p, ok := names[want]
		require.True(t, ok, want)
		require.Equal(t, 1000, p.Count, want)
		require.Positive(t, p.PerSecond, want)
	}

	var events int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM delivery_events`).Scan(&events))
	var notices int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM notices`).Scan(&notices))
	require.Equal(t, notices+2000*2+2000*2+2*1000, events,
		"one notice_created per notice; email: sending, delivered; sms: sending, sent; one bounced per DSN")

	var out bytes.Buffer
	rep.Print(&out)
	require.Contains(t, out.String(), "end to end email")
	out.Reset()
	require.NoError(t, rep.WriteJSON(&out))
	require.Contains(t, out.String(), `"ratios_to_river_baseline"`)
}

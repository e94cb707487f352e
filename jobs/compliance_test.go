package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/ledger"
)

func TestDailyAt(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	s := jobs.DailyAt(3, 0)
	require.Equal(t, time.Date(2028, 3, 26, 3, 0, 0, 0, paris), s.Next(time.Date(2028, 3, 25, 3, 0, 0, 0, paris)).In(paris))
	require.Equal(t, time.Date(2028, 3, 25, 3, 0, 0, 0, paris), s.Next(time.Date(2028, 3, 25, 2, 59, 0, 0, paris)).In(paris))
}

func TestComplianceWorkers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	workers := river.NewWorkers()
	key := testLedgerKey(t)
	require.NoError(t, jobs.AddComplianceWorkers(workers, pool, key, nil))
	require.Len(t, jobs.CompliancePeriodicJobs(jobs.ComplianceConfig{}), 2)

	seal := &jobs.SealWorker{Pool: pool, Key: key}
	require.NoError(t, seal.Work(ctx, &river.Job[jobs.SealArgs]{Args: jobs.SealArgs{BatchSize: 10}}))
	purge := &jobs.RetentionPurgeWorker{Pool: pool}
	require.NoError(t, purge.Work(ctx, &river.Job[jobs.RetentionPurgeArgs]{}))
	res, err := ledger.Verify(ctx, pool, ledger.VerifyOptions{Verifier: key.Verifier})
	require.NoError(t, err)
	require.True(t, res.OK, "%v", res.Breaks)
}

func testLedgerKey(t testing.TB) *ledger.Key {
	t.Helper()
	priv, _, err := ledger.GenerateKey("courrier-test")
	require.NoError(t, err)
	k, err := ledger.ParseKey(priv)
	require.NoError(t, err)
	return k
}

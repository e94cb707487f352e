package telemetry

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

type waitingArgs struct{}

func (waitingArgs) Kind() string { return "ops_waiting" }

// TestSampleReadsRiverQueues: jobs waiting in River show in the gauges by
// queue, kind and state, with the age of the oldest, and leave them once
// gone.
func TestSampleReadsRiverQueues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	for range 3 {
		_, err := client.Insert(ctx, waitingArgs{}, &river.InsertOpts{ScheduledAt: time.Now().Add(-2 * time.Minute)})
		require.NoError(t, err)
	}
	_, err = client.Insert(ctx, waitingArgs{}, &river.InsertOpts{Queue: "bulk", ScheduledAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)

	// No client works them: River's scheduler would make them available.
	_, err = pool.Exec(ctx, `UPDATE river_job SET state = 'available' WHERE queue = 'default'`)
	require.NoError(t, err)
	m := New()
	require.NoError(t, m.Sample(ctx, pool, true))
	require.Equal(t, 3.0, testutil.ToFloat64(m.riverJobs.WithLabelValues("default", "ops_waiting", "available")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.riverJobs.WithLabelValues("bulk", "ops_waiting", "scheduled")))
	require.GreaterOrEqual(t, testutil.ToFloat64(m.riverOldest.WithLabelValues("default", "ops_waiting", "available")), 110.0)
	require.Zero(t, testutil.ToFloat64(m.unsealed))
	require.Positive(t, testutil.ToFloat64(m.lastSample))

	_, err = pool.Exec(ctx, `DELETE FROM river_job WHERE state = 'available'`)
	require.NoError(t, err)
	require.NoError(t, m.Sample(ctx, pool, false))
	require.Equal(t, 1, testutil.CollectAndCount(m.riverJobs))
}

package jobs

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/internal/pgtest"
)

// BenchmarkFanoutBatch measures one fan-out batch: 5,000 notices inserted
// by one statement, 20 deliver_batch jobs by COPY, and the cursor, in one
// transaction.
func BenchmarkFanoutBatch(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.New(b)
	client, err := NewInsertClient(pool, nil)
	require.NoError(b, err)
	_, err = pool.Exec(ctx, `INSERT INTO recipients (ref, email) SELECT 'F' || g, 'f' || g || '@exemple.fr' FROM generate_series(1, 5000) g`)
	require.NoError(b, err)
	d := &CampaignDeps{Pool: pool, BatchSize: 5000, JobSize: 250}
	for b.Loop() {
		b.StopTimer()
		c, _, err := campaigns.Create(ctx, pool, campaigns.New{Kind: campaigns.Reminder, TemplateKey: "reminder_generic",
			Data: map[string]any{"title": "t", "message": "m"}, CreatedBy: "bench"}, &campaigns.Config{ApprovalThreshold: 1 << 30})
		require.NoError(b, err)
		_, err = campaigns.MarkStarted(ctx, pool, c.ID, "bench", c.CreatedAt, &campaigns.Config{ApprovalThreshold: 1 << 30})
		require.NoError(b, err)
		b.StartTimer()
		_, err = d.fanoutBatch(ctx, client, c.ID)
		require.NoError(b, err)
	}
	b.ReportMetric(5000, "notices/op")
}

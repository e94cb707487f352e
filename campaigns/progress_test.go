package campaigns

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

func TestListProgress(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	now := time.Now()
	var c1, c2 int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO campaigns (name, kind, notice_kind, template_key, created_by, state, audience_estimate, started_at)
		VALUES ('one', 'reminder', 'reminder', 'reminder', 'a', 'running', 4, now() - interval '5 minutes') RETURNING id`).Scan(&c1))
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO campaigns (name, kind, notice_kind, template_key, created_by)
		VALUES ('two', 'reminder', 'reminder', 'reminder', 'a') RETURNING id`).Scan(&c2))
	_, err := db.Exec(ctx, `INSERT INTO recipients (ref) SELECT 'R' || g FROM generate_series(1, 4) g`)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `
		INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, state, campaign_id, created_at, updated_at)
		SELECT r.id, 'reminder', 'reminder', 'k' || r.id, s.state, $1, now() - interval '5 minutes', now() - s.ago
		FROM (SELECT id, row_number() OVER (ORDER BY id) n FROM recipients) r
		JOIN (VALUES (1, 'delivered', interval '4 minutes'), (2, 'failed', interval '2 minutes'),
		             (3, 'sent', interval '1 minute'), (4, 'pending', interval '0')) s(n, state, ago) ON s.n = r.n`, c1)
	require.NoError(t, err)

	list, next, err := ListProgress(ctx, db, now, nil)
	require.NoError(t, err)
	require.Zero(t, next)
	require.Len(t, list, 2)
	require.Equal(t, c2, list[0].Campaign.ID)
	require.Zero(t, list[0].Counts.Created)
	p := list[1]
	require.Equal(t, int64(4), p.Counts.Created)
	require.Equal(t, int64(1), p.Counts.Delivered)
	require.Equal(t, int64(1), p.Counts.Failed)
	require.Equal(t, int64(1), p.Counts.Sent)
	require.InDelta(t, 50.0, p.Percent, 0.01)
	require.InDelta(t, 0.2, p.PerMinute, 0.001, "2 done in the last 10 minutes")
	require.NotNil(t, p.ETA)
	require.WithinDuration(t, now.Add(10*time.Minute), *p.ETA, time.Second, "2 remaining at 0.2/min")

	running, _, err := ListProgress(ctx, db, now, &ListOpts{State: StateRunning})
	require.NoError(t, err)
	require.Len(t, running, 1)
	page2, _, err := ListProgress(ctx, db, now, &ListOpts{Before: c2})
	require.NoError(t, err)
	require.Len(t, page2, 1)
	require.Equal(t, c1, page2[0].Campaign.ID)

	pts, err := Series(ctx, db, c1, 4)
	require.NoError(t, err)
	require.Len(t, pts, 4)
	require.Equal(t, int64(2), pts[3].Done)
	require.Equal(t, int64(1), pts[3].Delivered)
	for i := 1; i < len(pts); i++ {
		require.GreaterOrEqual(t, pts[i].Done, pts[i-1].Done, "cumulative")
	}
	empty, err := Series(ctx, db, c2, 4)
	require.NoError(t, err)
	require.Empty(t, empty)
}

package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/jobs"
)

// Work held by a process that died (a deliver job still running after the
// rescue delay, a delivery still sending after the lease) shows in
// /metrics, not only in `courrier campaign status`.
func TestMetricsShowStuckWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vars := map[string]string{"COURRIER_OUTBOX": t.TempDir()}
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return vars[k] },
		Pool: pgtest.New(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	rt, err := env.newRuntime(ctx, env.Pool, env.Logger, runtimeOpts{noQuietHours: true})
	require.NoError(t, err)
	t.Cleanup(rt.Close)
	app, err := env.newApp(ctx, env.Pool, rt) // River not started: no rescuer runs
	require.NoError(t, err)
	srv := httptest.NewServer(app.http)
	t.Cleanup(srv.Close)
	b := &opsBundle{ctx: ctx, pool: env.Pool, rt: rt, app: app, srv: srv}
	b.key, _, err = jobs.CreateAPIKey(ctx, b.pool, jobs.NewAPIKey{Name: "upstream", Operator: "Ops", Scopes: []string{"ingest", "staff"}})
	require.NoError(t, err)
	b.admin, _, err = jobs.CreateAPIKey(ctx, b.pool, jobs.NewAPIKey{Name: "prometheus", Operator: "Ops", Scopes: []string{"admin"}})
	require.NoError(t, err)

	require.NoError(t, rt.metrics.Sample(ctx, b.pool, true))
	m := b.scrape(t)
	_, ok := m[`courrier_stuck_work{what="jobs"}`]
	require.True(t, ok, "courrier_stuck_work is exported")
	require.Zero(t, m[`courrier_stuck_work{what="jobs"}`])
	require.Zero(t, m[`courrier_stuck_work{what="sending"}`])

	rid := b.addRecipient(t, "7000001", "lea@exemple.fr")
	status, out := b.call(t, "POST", "/v1/events/rights", b.key, map[string]any{"event_id": "E-stuck", "recipient_ref": "7000001",
		"event": "opened", "benefit": "APL", "amount": 245.3, "effective_on": "2027-04-01"})
	require.Equal(t, 201, status, "%s", out)
	old := time.Now().Add(-2 * jobs.RescueAfter())
	_, err = b.pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = $1 WHERE kind = 'deliver'`, old)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `INSERT INTO deliveries (notice_id, channel, provider, address, template_version, content_hash,
		state, attempt, sending_at, created_at, updated_at)
		SELECT id, 'email', 'smtp', 'lea@exemple.fr', 'v', 'h', 'sending', 1, $2, $2, $2 FROM notices WHERE recipient_id = $1`, rid, old)
	require.NoError(t, err)

	require.NoError(t, rt.metrics.Sample(ctx, b.pool, true))
	m = b.scrape(t)
	require.EqualValues(t, 1, m[`courrier_stuck_work{what="jobs"}`])
	require.EqualValues(t, 1, m[`courrier_stuck_work{what="sending"}`])
	require.InDelta(t, time.Since(old).Seconds(), m[`courrier_stuck_work_oldest_seconds`], 30)
}

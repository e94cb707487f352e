package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/campaigns"
)

// Issue 16: `courrier remind` could not schedule a reminder for later.
func TestRemindAt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env, out := testEnv(t, map[string]string{})
	seedBeneficiaries(t, env, 1)
	data := filepath.Join(t.TempDir(), "data.json")
	require.NoError(t, os.WriteFile(data, []byte(`{"title": "Rendez-vous", "message": "Mardi à 10 h."}`), 0o600))
	at := time.Now().In(campaigns.Paris()).Add(24 * time.Hour).Truncate(time.Minute)
	args := []string{"remind", "--template", "reminder_generic", "--recipient", "B00000001",
		"--operator", "alice", "--reason", "rendez-vous", "--data", data}
	require.NoError(t, Main(ctx, env, append(args, "--at", at.Format("2006-01-02 15:04"))))
	require.Contains(t, out.String(), "scheduled for "+at.Format("2006-01-02 15:04"))
	var scheduled time.Time
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT scheduled_at FROM river_job WHERE kind = 'deliver'`).Scan(&scheduled))
	require.True(t, scheduled.Equal(at), "scheduled at %s, want %s", scheduled, at)

	err := Main(ctx, env, append(args, "--at", "demain"))
	require.ErrorContains(t, err, "--at")
	err = Main(ctx, env, append(args, "--at", "2020-01-01 09:00"))
	require.ErrorContains(t, err, "in the past")
}

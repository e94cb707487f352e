package jobs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCampaignCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := campaignSetup(t)
	b.seedRecipients(t, 12)
	dir := t.TempDir()
	file := filepath.Join(dir, "mailing.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
name: lettre test
kind: general_mailing
data: {period: "printemps 2027"}
audience: {departements: ["75"]}
pace: {days: 1, window_from: "09:00", window_to: "18:00"}
`), 0o600))
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := CampaignCommand(ctx, b.pool, b.client, &out, args)
		return out.String(), err
	}
	out, err := run("create", file, "--operator", "alice")
	require.NoError(t, err)
	require.Contains(t, out, "campaign 1 created by alice")
	require.Contains(t, out, "needs approval")
	_, err = run("start", "1", "--operator", "alice")
	require.ErrorContains(t, err, "needs approval")
	_, err = run("approve", "1", "--operator", "alice")
	require.ErrorContains(t, err, "four-eyes")
	out, err = run("approve", "1", "--operator", "bob")
	require.NoError(t, err)
	require.Contains(t, out, "approved by bob")
	out, err = run("run", "1", "--operator", "alice")
	require.NoError(t, err)
	require.Contains(t, out, "started by alice")
	require.NoError(t, b.deps.fanout(ctx, b.client, 1))
	out, err = run("status", "1")
	require.NoError(t, err)
	require.Contains(t, out, "12 created: 12 pending")
	require.Contains(t, out, "approved  by bob")
	out, err = run("pause", "1", "--operator", "carol")
	require.NoError(t, err)
	require.Contains(t, out, "paused by carol")
	out, err = run("cancel", "1", "--operator", "carol", "--reason", "test")
	require.NoError(t, err)
	require.Contains(t, out, "12 pending notices cancelled")
	out, err = run("list")
	require.NoError(t, err)
	require.Contains(t, out, "cancelled")
	_, err = run("approve", "x", "--operator", "bob")
	require.ErrorContains(t, err, "not a campaign id")
	_, err = run("pause", "1")
	if os.Getenv("COURRIER_OPERATOR") == "" {
		require.ErrorContains(t, err, "--operator")
	}

	// remind to one beneficiary.
	data := filepath.Join(dir, "data.json")
	require.NoError(t, os.WriteFile(data, []byte(`{"title": "Rendez-vous", "message": "Le 22 mars à 10 h."}`), 0o600))
	var out2 bytes.Buffer
	require.NoError(t, RemindCommand(ctx, b.pool, b.client, &out2, []string{"--template", "reminder_generic", "--recipient", "B00000003",
		"--data", data, "--operator", "alice", "--reason", "rendez-vous"}))
	require.True(t, strings.HasPrefix(out2.String(), "reminder notice "), out2.String())
}

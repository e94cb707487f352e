package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func seedBeneficiaries(t *testing.T, env *Env, n int) {
	t.Helper()
	_, err := env.Pool.Exec(context.Background(), `
		INSERT INTO recipients (ref, email, postal_code, benefits, joined_at)
		SELECT 'B' || lpad(g::text, 8, '0'), 'b' || g || '@exemple.fr', '75011', '{AF}', '2020-01-01'
		FROM generate_series(1, $1) g`, n)
	require.NoError(t, err)
}

func TestCampaignCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env, buf := testEnv(t, map[string]string{})
	seedBeneficiaries(t, env, 12)
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
		buf.Reset()
		err := Main(ctx, env, append([]string{"campaign"}, args...))
		return buf.String(), err
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
	out, err = run("status", "1")
	require.NoError(t, err)
	require.Contains(t, out, "state      running")
	require.Contains(t, out, "approved  by bob")
	out, err = run("pause", "1", "--operator", "carol")
	require.NoError(t, err)
	require.Contains(t, out, "paused by carol")
	out, err = run("cancel", "1", "--operator", "carol", "--reason", "test")
	require.NoError(t, err)
	require.Contains(t, out, "cancelled by carol")
	out, err = run("list")
	require.NoError(t, err)
	require.Contains(t, out, "cancelled")
	_, err = run("approve", "x", "--operator", "bob")
	require.ErrorContains(t, err, "not a campaign id")
	_, err = run("pause", "1")
	require.ErrorContains(t, err, "--operator")

	aud := filepath.Join(dir, "audience.yaml")
	require.NoError(t, os.WriteFile(aud, []byte("benefits: [AF]\n"), 0o600))
	out, err = run("audience", aud, "--sample", "2")
	require.NoError(t, err)
	require.Contains(t, out, "matches:  12 beneficiaries")
	require.Contains(t, out, "B00000002")
	require.NotContains(t, out, "B00000003")
	require.NotContains(t, out, "@exemple.fr")

	// remind to one beneficiary.
	data := filepath.Join(dir, "data.json")
	require.NoError(t, os.WriteFile(data, []byte(`{"title": "Rendez-vous", "message": "Le 22 mars à 10 h."}`), 0o600))
	buf.Reset()
	require.NoError(t, Main(ctx, env, []string{"remind", "--template", "reminder_generic", "--recipient", "B00000003",
		"--data", data, "--operator", "alice", "--reason", "rendez-vous"}))
	require.True(t, strings.HasPrefix(buf.String(), "reminder notice "), buf.String())
}

// Issue 16: --job-size was silently ignored on campaign create/start/run.
func TestCampaignJobSizeIsStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env, _ := testEnv(t, map[string]string{})
	seedBeneficiaries(t, env, 3)
	file := filepath.Join(t.TempDir(), "mailing.yaml")
	require.NoError(t, os.WriteFile(file, []byte("kind: general_mailing\ndata: {period: \"printemps 2027\"}\n"), 0o600))
	jobSize := func(id int) (n int) {
		require.NoError(t, env.Pool.QueryRow(ctx, `SELECT job_size FROM campaigns WHERE id = $1`, id).Scan(&n))
		return n
	}
	require.NoError(t, Main(ctx, env, []string{"campaign", "create", file, "--operator", "alice", "--job-size", "40"}))
	require.Equal(t, 40, jobSize(1))
	require.NoError(t, Main(ctx, env, []string{"campaign", "approve", "1", "--operator", "bob"}))
	require.NoError(t, Main(ctx, env, []string{"campaign", "start", "1", "--operator", "alice", "--job-size", "7"}))
	require.Equal(t, 7, jobSize(1))
	require.NoError(t, Main(ctx, env, []string{"campaign", "create", file, "--operator", "alice"}))
	require.Zero(t, jobSize(2), "0: the server's default")
	require.NoError(t, Main(ctx, env, []string{"campaign", "approve", "2", "--operator", "bob"}))
	require.NoError(t, Main(ctx, env, []string{"campaign", "run", "2", "--operator", "alice", "--job-size", "3"}))
	require.Equal(t, 3, jobSize(2))
	err := Main(ctx, env, []string{"campaign", "create", file, "--operator", "alice", "--job-size", "-1"})
	require.ErrorContains(t, err, "job size")
}

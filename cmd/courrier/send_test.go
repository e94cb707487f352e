package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSendValidatesThenEnqueuesOnce(t *testing.T) {
	t.Parallel()
	env, out := testEnv(t, map[string]string{})
	ctx := context.Background()
	_, err := env.Pool.Exec(ctx, `INSERT INTO recipients (ref, civility, family_name, email) VALUES ('5550001', 'Mme', 'Durand', 'd@exemple.fr')`)
	require.NoError(t, err)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"benefit": "Allocations familiales"}`), 0o600))
	good := filepath.Join(dir, "good.json")
	require.NoError(t, os.WriteFile(good, []byte(`{"benefit": "Allocations familiales", "amount": 141.99, "effective_date": "2027-04-01"}`), 0o600))
	count := func() (n int) {
		require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM notices`).Scan(&n))
		return n
	}
	base := []string{"send", "--recipient", "5550001", "--kind", "rights_opened", "--key", "evt-42", "--operator", "Marie Curie"}

	err = Main(ctx, env, append(base, "--data", bad))
	require.ErrorContains(t, err, `field "amount"`)
	require.Zero(t, count(), "nothing is written when the data does not render")

	err = Main(ctx, env, []string{"send", "--recipient", "0000000", "--kind", "rights_opened", "--key", "k", "--operator", "x", "--data", good})
	require.ErrorContains(t, err, "no such beneficiary")
	err = Main(ctx, env, []string{"send", "--recipient", "5550001", "--kind", "birthday", "--key", "k", "--operator", "x"})
	require.ErrorContains(t, err, `"birthday" is not a notice kind`)
	err = Main(ctx, env, []string{"send", "--kind", "rights_opened"})
	require.ErrorContains(t, err, "required")

	require.NoError(t, Main(ctx, env, append(base, "--data", good)))
	require.Contains(t, out.String(), "enqueued (rights_opened for beneficiary 5550001)")
	require.NoError(t, Main(ctx, env, append(base, "--data", good)))
	require.Contains(t, out.String(), "nothing new")
	require.Equal(t, 1, count())
	var by string
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT created_by FROM notices`).Scan(&by))
	require.Equal(t, "cli/Marie Curie", by)
}

// Issue 16: `courrier send` accepted 12.345 and sent 12,35 €, while the API
// rejected it. Both now use templates.CentsFromEuros.
func TestSendRejectsThreeDecimalAmounts(t *testing.T) {
	t.Parallel()
	env, _ := testEnv(t, map[string]string{})
	ctx := context.Background()
	_, err := env.Pool.Exec(ctx, `INSERT INTO recipients (ref, civility, family_name, email) VALUES ('5550002', 'Mme', 'Durand', 'd@exemple.fr')`)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "data.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"benefit": "Allocations familiales", "amount": 12.345, "effective_date": "2027-04-01"}`), 0o600))
	err = Main(ctx, env, []string{"send", "--recipient", "5550002", "--kind", "rights_opened", "--key", "k", "--operator", "x", "--data", file})
	require.ErrorContains(t, err, `field "amount"`)
	require.ErrorContains(t, err, "at most two decimals")
	var n int
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM notices`).Scan(&n))
	require.Zero(t, n)
}

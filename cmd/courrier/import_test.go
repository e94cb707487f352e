package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// Issue 16: `courrier import` exited 0 when rows were rejected.
func TestImportExitsNonZeroOnRejectedRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env, out := testEnv(t, map[string]string{})
	path := filepath.Join(t.TempDir(), "f.csv")
	require.NoError(t, os.WriteFile(path, []byte("numero_allocataire;nom;email\n"+
		"1000001;Dupré;lea@exemple.fr\n"+
		"1000002;Martin;jean@@exemple\n"+
		"1000003;Durand;x@@y\n"+
		"1000004;Petit;anne@exemple.fr\n"), 0o600))
	count := func() (n int) {
		require.NoError(t, env.Pool.QueryRow(ctx, "SELECT count(*) FROM recipients").Scan(&n))
		return n
	}

	err := Main(ctx, env, []string{"import", "recipients", "--dry-run", path})
	require.ErrorIs(t, err, ErrRejectedRows)
	require.Contains(t, out.String(), "dry run: nothing was written")
	require.Contains(t, out.String(), "valid:      2\n")
	require.Contains(t, out.String(), "  line 3: email is not a valid email address\n")
	require.Zero(t, count())

	out.Reset()
	err = Main(ctx, env, []string{"import", "recipients", "--show", "1", path})
	require.ErrorIs(t, err, ErrRejectedRows)
	require.ErrorContains(t, err, "2 (more than --max-rejected 0)")
	require.Contains(t, out.String(), "inserted:   2\n")
	require.Contains(t, out.String(), "… and 1 more rejected rows")
	require.NotContains(t, out.String(), "Martin")
	require.Equal(t, 2, count(), "the good rows are imported all the same")

	out.Reset()
	require.NoError(t, Main(ctx, env, []string{"import", "recipients", "--max-rejected", "2", path}))
	require.Contains(t, out.String(), "unchanged:  2\n")
	err = Main(ctx, env, []string{"import", "recipients", "--max-rejected", "1", path})
	require.ErrorIs(t, err, ErrRejectedRows)
}

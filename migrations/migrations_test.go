package migrations

import (
	"context"
	"os"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pglocal"
)

func TestParseOrdersAndRejectsBadNames(t *testing.T) {
	t.Parallel()
	all, err := All()
	require.NoError(t, err)
	require.NotEmpty(t, all)
	for i := 1; i < len(all); i++ {
		require.Less(t, all[i-1].Version, all[i].Version)
	}
	_, err = parse(fstest.MapFS{"create.sql": {Data: []byte("SELECT 1")}})
	require.ErrorContains(t, err, "NNNN_description.sql")
	_, err = parse(fstest.MapFS{"0001_a.sql": {}, "01_b.sql": {}})
	require.ErrorContains(t, err, "share version 1")
}

// TestFailedMigrationLeavesDatabaseAsItWas applies migrations to a fresh
// database on a private server, then a broken one: nothing of the broken
// migration stays, and a fixed rerun applies it.
func TestFailedMigrationLeavesDatabaseAsItWas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Not t.TempDir: as root, the postgres OS user must be able to enter it.
	dir, err := os.MkdirTemp("/tmp", "courrier-migrations-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	srv, err := pglocal.Start(ctx, &pglocal.Options{DataDir: dir + "/data", Settings: map[string]string{"fsync": "off"}})
	require.NoError(t, err)
	defer srv.Stop()
	pool, err := pgxpool.New(ctx, srv.URL("postgres"))
	require.NoError(t, err)
	defer pool.Close()

	all, err := All()
	require.NoError(t, err)
	res, err := migrate(ctx, pool, all)
	require.NoError(t, err)
	require.Len(t, res.Applied, len(all))
	require.NotEmpty(t, res.RiverVersions)

	broken := Migration{Version: 9999, Name: "broken", SQL: "CREATE TABLE half_written (id int); SELECT no_such_column FROM recipients;"}
	_, err = migrate(ctx, pool, append(all, broken))
	require.ErrorContains(t, err, "migration 9999_broken")
	var exists bool
	require.NoError(t, pool.QueryRow(ctx, "SELECT to_regclass('half_written') IS NOT NULL").Scan(&exists))
	require.False(t, exists, "the failed migration's first statement was rolled back")
	list, _, err := Status(ctx, pool)
	require.NoError(t, err)
	for _, m := range list {
		require.NotNil(t, m.AppliedAt, "%04d", m.Version)
	}

	fixed := Migration{Version: 9999, Name: "fixed", SQL: "CREATE TABLE half_written (id int)"}
	res, err = migrate(ctx, pool, append(all, fixed))
	require.NoError(t, err)
	require.Len(t, res.Applied, 1)
	res, err = migrate(ctx, pool, append(all, fixed))
	require.NoError(t, err)
	require.Empty(t, res.Applied, "a second run applies nothing")
}

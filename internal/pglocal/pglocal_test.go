package pglocal

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// testDir returns a directory the postgres OS user can reach (t.TempDir is
// 0700 and owned by root when tests run as root).
func testDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "courrier-pglocal-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestStartStopRestartKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dataDir := filepath.Join(testDir(t), "data")

	srv, err := Start(ctx, &Options{DataDir: dataDir, Settings: map[string]string{"fsync": "off"}})
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, srv.URL("postgres"))
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('bonjour')")
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
	require.NoError(t, srv.Stop())
	_, err = os.Stat(filepath.Join(dataDir, "postmaster.pid"))
	require.ErrorIs(t, err, os.ErrNotExist, "a clean stop removes postmaster.pid")

	srv2, err := Start(ctx, &Options{DataDir: dataDir})
	require.NoError(t, err)
	defer srv2.Stop()
	conn, err = pgx.Connect(ctx, srv2.URL("postgres"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var v string
	require.NoError(t, conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v))
	require.Equal(t, "bonjour", v)
	var enc string
	require.NoError(t, conn.QueryRow(ctx, "SHOW server_encoding").Scan(&enc))
	require.Equal(t, "UTF8", enc)
}

func TestStalePIDFileRecovered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dataDir := filepath.Join(testDir(t), "data")
	srv, err := Start(ctx, &Options{DataDir: dataDir, Settings: map[string]string{"fsync": "off"}})
	require.NoError(t, err)
	require.NoError(t, srv.Stop())

	// A crashed server leaves its pid file behind; 999999 is above Linux's pid_max default.
	stale := "999999\n" + dataDir + "\n1700000000\n5432\n/tmp\n\n  5432001    32768\nready   \n"
	pidFile := filepath.Join(dataDir, "postmaster.pid")
	require.NoError(t, os.WriteFile(pidFile, []byte(stale), 0o600))
	if os.Geteuid() == 0 {
		fi, err := os.Stat(dataDir)
		require.NoError(t, err)
		_ = fi
		cred, err := runAs()
		require.NoError(t, err)
		require.NoError(t, os.Chown(pidFile, int(cred.Uid), int(cred.Gid)))
	}

	srv, err = Start(ctx, &Options{DataDir: dataDir})
	require.NoError(t, err)
	defer srv.Stop()
	conn, err := pgx.Connect(ctx, srv.URL("postgres"))
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
}

func TestSecondStartSharesTheRunningServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dataDir := filepath.Join(testDir(t), "data")
	srv, err := Start(ctx, &Options{DataDir: dataDir, Settings: map[string]string{"fsync": "off"}})
	require.NoError(t, err)
	defer srv.Stop()

	// A second courrier command on the same data directory (say, apikey
	// while serve runs) uses the running server...
	second, err := Start(ctx, &Options{DataDir: dataDir})
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, second.URL("postgres"))
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
	// ...and leaves it running when it is done.
	require.NoError(t, second.Stop())
	conn, err = pgx.Connect(ctx, srv.URL("postgres"))
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
}

func TestMissingBinariesSaysWhatToDo(t *testing.T) {
	t.Parallel()
	_, err := Start(context.Background(), &Options{BinDir: "/nonexistent/bin", DataDir: filepath.Join(testDir(t), "data")})
	require.Error(t, err)
	require.True(t, errors.Is(err, ErrNoBinaries))
	require.Contains(t, err.Error(), "apt-get install postgresql")
	require.Contains(t, err.Error(), "DATABASE_URL")
}

func TestURLUsesShortSocketDir(t *testing.T) {
	t.Parallel()
	s := &Server{socketDir: "/tmp/courrier-pg-123", port: 5432}
	u := s.URL("courrier")
	require.True(t, strings.HasPrefix(u, "postgres:///courrier?"), u)
	require.Contains(t, u, "host=%2Ftmp%2Fcourrier-pg-123")
}

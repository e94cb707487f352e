package pglocal

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// A courrier killed with kill -9 leaves its server shutting down (its
// Pdeathsig): a supervisor's immediate restart must wait for it to exit and
// start a new one, not refuse to start.
func TestStartWaitsForAServerShuttingDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dataDir := testDir(t) + "/data"
	old, err := Start(ctx, &Options{DataDir: dataDir, Settings: map[string]string{"fsync": "off"}})
	require.NoError(t, err)
	// A smart shutdown (SIGTERM) with a session still open: the server
	// refuses new connections ("the database system is shutting down")
	// until that session ends.
	conn, err := pgx.Connect(ctx, old.URL("postgres"))
	require.NoError(t, err)
	require.NoError(t, old.cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool {
		c, err := pgx.Connect(ctx, old.URL("postgres"))
		if err == nil {
			_ = c.Close(ctx)
			return false
		}
		return true
	}, 10*time.Second, 20*time.Millisecond)

	started := make(chan *Server, 1)
	errc := make(chan error, 1)
	go func() {
		s, err := Start(ctx, &Options{DataDir: dataDir, StartTimeout: 60 * time.Second})
		errc <- err
		started <- s
	}()
	select {
	case err := <-errc:
		t.Fatalf("Start returned while the old server still shut down: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	require.NoError(t, conn.Close(ctx)) // the old server can now exit
	require.NoError(t, <-errc)
	s := <-started
	defer s.Stop()
	require.False(t, s.shared, "a new server, not the dying one")
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	require.NoError(t, err)
	require.NoError(t, c.Close(ctx))
	<-old.Done()
}

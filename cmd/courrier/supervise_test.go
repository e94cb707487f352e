package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// When its embedded PostgreSQL dies, serve exits with an error (non-zero)
// instead of logging fetch errors forever, so that a supervisor restarts
// both.
func TestServeExitsWhenItsPostgreSQLDies(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("/tmp", "courrier-serve-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	dataDir := filepath.Join(dir, "pg")
	vars := map[string]string{"COURRIER_DATA_DIR": dataDir, "COURRIER_OUTBOX": filepath.Join(dir, "outbox"), "COURRIER_LOG_FORMAT": "json"}
	logs := &syncBuffer{b: &bytes.Buffer{}}
	env := &Env{Stdout: logs, Stderr: logs, Getenv: func(k string) string { return vars[k] }}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Main(ctx, env, []string{"serve", "--addr", "127.0.0.1:0"}) }()
	var pid int
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
		if err != nil {
			return false
		}
		pid, _ = strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
		return pid > 0 && strings.Contains(logs.String(), "courrier serving")
	}, 60*time.Second, 50*time.Millisecond, "serve did not start: %s", logs.String())

	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	select {
	case err := <-done:
		require.ErrorContains(t, err, "embedded PostgreSQL exited")
	case <-time.After(60 * time.Second):
		t.Fatal("serve kept running without its database")
	}
	require.Contains(t, logs.String(), "supervisor restarts courrier")
}

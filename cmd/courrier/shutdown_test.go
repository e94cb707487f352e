package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestServeStopsCleanlyOnSignal runs `serve` on the embedded default (its
// own private PostgreSQL) and cancels its context, as SIGTERM does through
// signal.NotifyContext: serve returns without error and the PostgreSQL it
// started is gone.
func TestServeStopsCleanlyOnSignal(t *testing.T) {
	t.Parallel()
	// Not t.TempDir: as root, the postgres OS user must be able to enter it.
	dir, err := os.MkdirTemp("/tmp", "courrier-serve-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	dataDir := filepath.Join(dir, "pg")
	vars := map[string]string{"COURRIER_DATA_DIR": dataDir, "COURRIER_OUTBOX": filepath.Join(dir, "outbox"), "COURRIER_LOG_FORMAT": "json"}
	logs := &syncBuffer{b: &bytes.Buffer{}}
	env := &Env{Stdout: logs, Stderr: logs, Getenv: func(k string) string { return vars[k] }}

	ctx, cancel := context.WithCancel(context.Background())
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

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop")
	}
	require.Contains(t, logs.String(), `"msg":"stopped"`)
	require.Error(t, syscall.Kill(pid, 0), "the embedded PostgreSQL was stopped")
	_, err = os.Stat(filepath.Join(dataDir, "postmaster.pid"))
	require.ErrorIs(t, err, os.ErrNotExist, "a clean shutdown removes postmaster.pid")
}

// syncBuffer lets the logger and the test share a buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

//go:build fault

package faults

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// postmaster reads the embedded server's postmaster.pid: its pid, and the
// URL of serve's "courrier" database over its Unix socket.
func (s *scenario) postmaster() (pid int, dbURL string) {
	b, err := os.ReadFile(filepath.Join(s.dataDir, "postmaster.pid"))
	require.NoError(s.t, err)
	// pid, data directory, start time, port, socket directory, …
	lines := strings.Split(string(b), "\n")
	require.Greater(s.t, len(lines), 4, "postmaster.pid: %q", b)
	pid, err = strconv.Atoi(strings.TrimSpace(lines[0]))
	require.NoError(s.t, err)
	q := url.Values{"host": {strings.TrimSpace(lines[4])}, "port": {strings.TrimSpace(lines[3])},
		"user": {"postgres"}, "sslmode": {"disable"}}
	return pid, "postgres:///courrier?" + q.Encode()
}

// connectEmbedded opens the scenario's pool on serve's own PostgreSQL.
func (s *scenario) connectEmbedded() {
	_, dbURL := s.postmaster()
	pool, err := pgxpool.New(context.Background(), dbURL)
	require.NoError(s.t, err)
	require.NoError(s.t, pool.Ping(context.Background()))
	s.pool = pool
	s.t.Cleanup(pool.Close)
}

// stopGracefully stops the last serve with SIGTERM and waits for it.
func (s *scenario) stopGracefully() {
	if p := s.serve; p != nil && !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(time.Minute):
		}
	}
}

// supervise plays systemd's Restart=always (RestartSec=100ms): it starts
// serve again until one answers /healthz, and returns how many it started.
func (s *scenario) supervise(within time.Duration) (starts int) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		p := s.start()
		starts++
		if s.healthy(p, time.Until(deadline)) {
			return starts
		}
	}
	s.t.Fatalf("%s: serve did not come back within %s (%d starts)", s.db, within, starts)
	return starts
}

// The embedded PostgreSQL (serve's own, COURRIER_DATA_DIR without
// DATABASE_URL) is killed with SIGKILL mid-campaign. serve must exit
// non-zero; the supervisor restarts it at once, and the new serve must wait
// for the old server's processes to go and take the data directory over.
func TestKillEmbeddedPostgres(t *testing.T) {
	parallel(t)
	w := setupWorld(t)
	s := bareScenario(t, w, "embeddedpg", size(600, 3000))
	s.dataDir = filepath.Join(w.dir, "embeddedpg-pg")
	s.smtp.latency = 10 * time.Millisecond
	p := s.start()
	require.True(t, s.healthy(p, 3*time.Minute))
	s.connectEmbedded()
	_, err := s.pool.Exec(context.Background(), seedSQL, s.n)
	require.NoError(t, err)
	s.campaign()
	s.waitReceived(s.n/3, 5*time.Minute)

	pid, _ := s.postmaster()
	s.pool.Close()
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	end := time.Now()
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatal("serve kept running without its PostgreSQL")
	}
	var exit *exec.ExitError
	require.True(t, errors.As(p.err, &exit), "serve exited with %v", p.err)
	require.NotZero(t, exit.ExitCode())

	restarted := time.Now()
	starts := s.supervise(2 * time.Minute)
	t.Cleanup(s.stopGracefully) // serve stops its PostgreSQL before the data directory goes
	t.Logf("%s: serve exited with status %d %.1f s after the kill; the supervisor started it %d time(s)",
		s.db, exit.ExitCode(), restarted.Sub(end).Seconds(), starts)
	s.connectEmbedded()
	// Recovery counts from the kill to the first message of a new serve
	// (the dying one may still hand over the messages it was sending).
	first := s.firstAfter(restarted, 3*time.Minute)
	require.GreaterOrEqual(t, first, time.Duration(0), "nothing sent after the restart")
	recovered := restarted.Sub(end) + first
	done := s.waitDone(5 * time.Minute)
	tl := s.report(end, recovered, done)
	require.Positive(t, tl.smsSent)
	s.bounded(tl, 1)
	require.Less(t, recovered, 2*time.Minute)
	require.Less(t, done.Sub(end), 2*time.Minute+30*time.Second)
}

// Two serve processes share one database; one is killed with SIGKILL
// mid-campaign and not restarted. The survivor must finish the campaign,
// taking over the dead one's jobs once River's rescuer frees them.
func TestSigkillOneOfTwoServes(t *testing.T) {
	parallel(t)
	s := newScenario(t, "twoserves", size(600, 3000))
	s.smtp.latency = 20 * time.Millisecond
	a, b := s.start(), s.start()
	require.True(t, s.healthy(a, 2*time.Minute))
	require.True(t, s.healthy(b, 2*time.Minute))
	s.campaign()
	s.waitReceived(s.n*3/10, 5*time.Minute)
	s.kill(a)
	end := time.Now()
	recovered := s.firstAfter(end, 3*time.Minute)
	done := s.waitDone(5 * time.Minute)
	require.False(t, b.exited(), "the survivor exited")
	tl := s.report(end, recovered, done)
	s.bounded(tl, 1)
	require.Less(t, done.Sub(end), 2*time.Minute+30*time.Second)

	// The survivor ran jobs the dead one had started (attempted by two
	// River clients), within the rescue delay and the rescuer's interval.
	var rescued int
	var resumed, last *time.Time
	require.NoError(t, s.pool.QueryRow(context.Background(), `
		SELECT count(*), min(attempted_at), max(finalized_at) FROM river_job
		WHERE kind IN ('deliver_batch', 'deliver') AND state = 'completed'
		  AND cardinality(attempted_by) >= 2 AND attempted_by[1] <> attempted_by[cardinality(attempted_by)]`).Scan(&rescued, &resumed, &last))
	require.Positive(t, rescued, "no job of the dead serve was taken over")
	line := fmt.Sprintf("%s: the survivor took over %d delivery jobs of the dead serve %.1f s after the kill, the last done %.1f s after it",
		s.db, rescued, resumed.Sub(end).Seconds(), last.Sub(end).Seconds())
	fmt.Println(line)
	t.Log(line)
	require.Less(t, last.Sub(end), 2*time.Minute)
}

package bench

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// pgSample is what PostgreSQL itself used up to a moment: the CPU time of
// the server's processes (when the server runs on this machine) and the
// transactions committed in the benchmark's database. On a machine shared
// with other work the machine's busy time says little about PostgreSQL;
// the server's own processes do.
type pgSample struct {
	cpu     time.Duration
	cpuOK   bool
	commits int64
}

// samplePG reads the CPU time of the postmaster and of every process it
// started: its own utime+stime, plus the cutime+cstime of the children it
// has reaped (backends that exited), plus utime+stime of the live ones.
// The postmaster is found as the parent of this session's backend.
func samplePG(ctx context.Context, pool *pgxpool.Pool) pgSample {
	var s pgSample
	var backend int
	_ = pool.QueryRow(ctx, `SELECT pg_backend_pid(), xact_commit FROM pg_stat_database WHERE datname = current_database()`).
		Scan(&backend, &s.commits)
	if backend == 0 {
		return s
	}
	f, ok := procStat(backend)
	if !ok {
		return s // the server is on another machine
	}
	postmaster, _ := strconv.Atoi(f[1])
	pf, ok := procStat(postmaster)
	if !ok {
		return s
	}
	ticks := sumFields(pf, 11, 12, 13, 14) // utime stime cutime cstime
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == postmaster {
			continue
		}
		cf, ok := procStat(pid)
		if !ok || cf[1] != strconv.Itoa(postmaster) {
			continue
		}
		ticks += sumFields(cf, 11, 12)
	}
	s.cpu, s.cpuOK = time.Duration(ticks)*10*time.Millisecond, true // USER_HZ = 100
	return s
}

// procStat returns the fields of /proc/pid/stat after the command name:
// [0] state, [1] ppid, … [11] utime, [12] stime, [13] cutime, [14] cstime.
func procStat(pid int) ([]string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, false
	}
	f := strings.Fields(s[i+1:])
	return f, len(f) > 14
}

func sumFields(f []string, idx ...int) int64 {
	var t int64
	for _, i := range idx {
		n, _ := strconv.ParseInt(f[i], 10, 64)
		t += n
	}
	return t
}

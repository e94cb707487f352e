// Package pglocal starts a private PostgreSQL server from the server binaries
// installed on the machine (Debian's postgresql package), so that courrier
// runs with nothing configured: the "embedded default".
//
// The server listens on a Unix socket in a short private directory (and on TCP
// only when asked), runs as the postgres OS user when the caller is root (initdb
// and postgres refuse root), and keeps its data directory between runs.
package pglocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries is returned when no PostgreSQL server binaries can be found.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries found (initdb, postgres): " +
	"install them (Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL to an existing server")

// Options configure Start. The zero value is usable.
type Options struct {
	// DataDir is the cluster's data directory. Defaults to DefaultDataDir().
	DataDir string
	// BinDir holds initdb and postgres. Found automatically when empty:
	// pg_config --bindir, then PATH, then the highest /usr/lib/postgresql/*/bin.
	BinDir string
	// TCPPort, when non-zero, also listens on 127.0.0.1 at that port.
	TCPPort int
	// Settings are extra server settings (-c name=value), e.g. fsync=off.
	Settings map[string]string
	// Logger receives progress lines. Defaults to slog.Default().
	Logger *slog.Logger
	// StartTimeout bounds how long to wait for the server to accept
	// connections. Defaults to 60s.
	StartTimeout time.Duration
}

// Server is a running private PostgreSQL server.
type Server struct {
	dataDir   string
	socketDir string
	port      int
	cmd       *exec.Cmd
	done      chan struct{}
	exitErr   error
	logger    *slog.Logger
	logPath   string
	shared    bool // started by another process: Stop leaves it running
}

// SuperUser is the name of the cluster's superuser.
const SuperUser = "postgres"

// DefaultDataDir is $XDG_DATA_HOME/courrier/postgres (~/.local/share/...).
// When running as root, whose home the postgres user cannot enter, it is
// /var/lib/courrier/postgres.
func DefaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/courrier/postgres"
	}
	base := os.Getenv("XDG_DATA_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		base = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(base, "courrier", "postgres")
}

// FindBinDir locates the directory that holds initdb and postgres.
func FindBinDir() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if hasServer(dir) {
			return dir, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if hasServer(dir) {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	for _, dir := range matches {
		if hasServer(dir) {
			return dir, nil
		}
	}
	return "", ErrNoBinaries
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// runAs says which OS user the server must run as: nil for the current user,
// or the postgres user when the current user is root.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, the server must run as the postgres OS user, which does not exist (%v): "+
			"install the postgresql package, or run courrier as a regular user, or set DATABASE_URL", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// Start initialises the data directory if needed and starts the server.
func Start(ctx context.Context, opts *Options) (*Server, error) {
	if opts == nil {
		opts = &Options{}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	binDir := opts.BinDir
	if binDir == "" {
		var err error
		if binDir, err = FindBinDir(); err != nil {
			return nil, err
		}
	} else if !hasServer(binDir) {
		return nil, fmt.Errorf("%s: %w", binDir, ErrNoBinaries)
	}
	dataDir := opts.DataDir
	if dataDir == "" {
		dataDir = DefaultDataDir()
	}
	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}

	if err := prepareDir(dataDir, cred); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		logger.Info("initialising private PostgreSQL data directory", "dir", dataDir)
		if err := initdb(ctx, binDir, dataDir, cred); err != nil {
			return nil, err
		}
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	if shared, err := takeOver(ctx, dataDir, logger, time.Now().Add(timeout)); err != nil || shared != nil {
		return shared, err
	}
	SweepSocketDirs()

	socketDir, err := os.MkdirTemp("/tmp", socketPrefix)
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(socketDir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	s := &Server{dataDir: dataDir, socketDir: socketDir, port: 5432, done: make(chan struct{}), logger: logger}
	if opts.TCPPort != 0 {
		s.port = opts.TCPPort
	}
	args := []string{"-D", dataDir, "-k", socketDir, "-p", strconv.Itoa(s.port)}
	if opts.TCPPort != 0 {
		args = append(args, "-c", "listen_addresses=127.0.0.1")
	} else {
		args = append(args, "-c", "listen_addresses=")
	}
	keys := make([]string, 0, len(opts.Settings))
	for k := range opts.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+opts.Settings[k])
	}
	s.logPath = filepath.Join(filepath.Dir(dataDir), filepath.Base(dataDir)+".log")
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(binDir, "postgres"), args...)
	cmd.Dir = "/"
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Pdeathsig: the server stops (fast shutdown) if courrier dies without
	// stopping it; Setpgid keeps a terminal's ^C from reaching it directly,
	// so that Stop decides how it shuts down.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s.cmd = cmd
	go func() {
		s.exitErr = cmd.Wait()
		logFile.Close()
		close(s.done)
	}()

	if err := s.waitReady(ctx, timeout); err != nil {
		_ = s.Stop()
		return nil, err
	}
	logger.Info("private PostgreSQL started", "dir", dataDir, "socket_dir", socketDir, "pid", cmd.Process.Pid)
	return s, nil
}

func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("postgres exited during start-up (%v); see %s:\n%s", s.exitErr, s.logPath, tail(s.logPath, 10))
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, s.URL("postgres"))
		cancel()
		if err == nil {
			_ = conn.Close(ctx)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within %s: %w; see %s", timeout, err, s.logPath)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// URL returns a connection string for database name over the Unix socket.
func (s *Server) URL(database string) string {
	q := url.Values{}
	q.Set("host", s.socketDir)
	q.Set("port", strconv.Itoa(s.port))
	q.Set("user", SuperUser)
	q.Set("sslmode", "disable")
	return "postgres:///" + url.PathEscape(database) + "?" + q.Encode()
}

// DataDir is the cluster's data directory.
func (s *Server) DataDir() string { return s.dataDir }

// Done is closed when the server process has exited.
func (s *Server) Done() <-chan struct{} { return s.done }

// Stop shuts the server down (fast shutdown: open sessions are ended,
// committed data is safe) and removes the socket directory.
func (s *Server) Stop() error {
	if s == nil || s.shared || s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	defer os.RemoveAll(s.socketDir)
	select {
	case <-s.done:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
		return nil
	case <-time.After(30 * time.Second):
	}
	_ = s.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-s.done:
		return fmt.Errorf("postgres did not stop within 30s and was made to quit")
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("postgres had to be killed")
	}
}

// prepareDir creates dataDir (0700) and makes sure the server's OS user owns
// it and can reach it.
func prepareDir(dataDir string, cred *syscall.Credential) error {
	if err := os.MkdirAll(filepath.Dir(dataDir), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(dataDir), err)
	}
	if err := os.Mkdir(dataDir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create %s: %w", dataDir, err)
	}
	if cred == nil {
		return nil
	}
	if err := os.Chown(dataDir, int(cred.Uid), int(cred.Gid)); err != nil {
		return err
	}
	// Every parent must be traversable by the postgres user.
	for dir := filepath.Dir(dataDir); dir != "/"; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("data directory %s: the postgres OS user cannot enter %s (mode %v): choose a data directory elsewhere (--data-dir) or set DATABASE_URL",
				dataDir, dir, fi.Mode().Perm())
		}
	}
	return nil
}

func initdb(ctx context.Context, binDir, dataDir string, cred *syscall.Credential) error {
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"),
		"-D", dataDir, "--username="+SuperUser, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", dataDir, err, out)
	}
	return nil
}

// takeOver deals with a server already running on dataDir. One that
// answers is shared (returned; Stop leaves it running). One that does not
// answer yet is waited for until deadline: it is starting up, or it is the
// server of a courrier process that was killed (kill -9, OOM) and is still
// shutting down, as a supervisor's immediate restart finds it; once it has
// exited, Start starts a new one (nil, nil).
func takeOver(ctx context.Context, dataDir string, logger *slog.Logger, deadline time.Time) (*Server, error) {
	waiting := false
	for {
		running, err := clearStalePID(dataDir, logger)
		if err != nil || running == nil {
			return nil, err
		}
		s := &Server{dataDir: dataDir, socketDir: running.socketDir, port: running.port, shared: true, logger: logger}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, s.URL("postgres"))
		cancel()
		if err == nil {
			_ = conn.Close(ctx)
			logger.Info("using the private PostgreSQL already running", "dir", dataDir, "pid", running.pid)
			return s, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("a PostgreSQL server (pid %d) already runs on %s but does not answer on %s: %w",
				running.pid, dataDir, running.socketDir, err)
		}
		if !waiting {
			logger.Warn("a private PostgreSQL already runs on the data directory but does not answer: waiting for it to answer or to exit",
				"dir", dataDir, "pid", running.pid, "error", err)
			waiting = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// liveServer describes a server already running on a data directory.
type liveServer struct {
	pid       int
	port      int
	socketDir string
}

// clearStalePID removes a postmaster.pid left by a server that is no longer
// running. For a live server it returns where to reach it.
func clearStalePID(dataDir string, logger *slog.Logger) (*liveServer, error) {
	pidFile := filepath.Join(dataDir, "postmaster.pid")
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	// postmaster.pid: pid, data directory, start time, port, socket
	// directory, listen address, shared memory key, status.
	lines := strings.Split(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(lines[0]))
	if pid > 0 && processIsPostgres(pid) {
		live := &liveServer{pid: pid}
		if len(lines) > 4 {
			live.port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
			live.socketDir = strings.TrimSpace(lines[4])
		}
		if live.port == 0 || live.socketDir == "" {
			return nil, fmt.Errorf("a PostgreSQL server (pid %d) is already running on %s: stop it, or use another data directory", pid, dataDir)
		}
		return live, nil
	}
	logger.Warn("removing stale postmaster.pid", "dir", dataDir, "pid", pid)
	return nil, os.Remove(pidFile)
}

func processIsPostgres(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return true // cannot tell: assume alive rather than corrupt a running cluster
	}
	name := strings.TrimSpace(string(comm))
	return name == "postgres" || name == "postmaster"
}

const socketPrefix = "courrier-pg-"

// SweepSocketDirs removes socket directories left in /tmp by servers that
// died without cleaning up.
func SweepSocketDirs() {
	dirs, _ := filepath.Glob(filepath.Join("/tmp", socketPrefix+"*"))
	for _, dir := range dirs {
		locks, _ := filepath.Glob(filepath.Join(dir, ".s.PGSQL.*.lock"))
		alive := false
		for _, lock := range locks {
			b, err := os.ReadFile(lock)
			if err != nil {
				alive = true
				continue
			}
			pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
			if pid > 0 && processIsPostgres(pid) {
				alive = true
			}
		}
		if !alive {
			if fi, err := os.Stat(dir); err == nil && time.Since(fi.ModTime()) > time.Minute || len(locks) > 0 {
				os.RemoveAll(dir)
			}
		}
	}
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

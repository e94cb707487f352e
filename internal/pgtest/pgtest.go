// Package pgtest gives each test its own fresh, migrated PostgreSQL database.
//
// One private server is started per test binary (through pglocal, with fsync
// off), a template database is migrated once, and every call to New clones it
// with CREATE DATABASE … TEMPLATE, which is far cheaper than migrating again.
// The database is dropped when the test ends. When COURRIER_TEST_DATABASE_URL
// is set, that server is used instead of a private one.
package pgtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/internal/pglocal"
	"github.com/courrier-dev/courrier/migrations"
)

const dirPrefix = "courrier-pgtest-"

var (
	once     sync.Once
	baseURL  string // URL of the maintenance database
	template string
	initErr  error
	counter  atomic.Int64
	createMu sync.Mutex
)

func setup() {
	ctx := context.Background()
	if u := os.Getenv("COURRIER_TEST_DATABASE_URL"); u != "" {
		baseURL = u
	} else {
		sweep()
		dir, err := os.MkdirTemp("/tmp", dirPrefix)
		if err != nil {
			initErr = err
			return
		}
		if err := lockDir(dir); err != nil {
			initErr = err
			return
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			initErr = err
			return
		}
		srv, err := pglocal.Start(ctx, &pglocal.Options{
			DataDir: filepath.Join(dir, "data"),
			Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
			Settings: map[string]string{
				"fsync":              "off",
				"synchronous_commit": "off",
				"full_page_writes":   "off",
				"max_connections":    "200",
				"shared_buffers":     "64MB",
			},
		})
		if err != nil {
			initErr = err
			return
		}
		baseURL = srv.URL("postgres")
	}
	template = fmt.Sprintf("courrier_tpl_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	conn, err := pgx.Connect(ctx, baseURL)
	if err != nil {
		initErr = fmt.Errorf("pgtest: connect: %w", err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+template); err != nil {
		initErr = fmt.Errorf("pgtest: create template: %w", err)
		return
	}
	pool, err := pgxpool.New(ctx, withDB(baseURL, template))
	if err != nil {
		initErr = err
		return
	}
	defer pool.Close()
	if _, err := migrations.Migrate(ctx, pool); err != nil {
		initErr = fmt.Errorf("pgtest: migrate template: %w", err)
	}
}

// sweep removes data directories of private test servers whose test binary
// has gone (the server stops with its parent, the directory stays). A live
// test binary holds an exclusive lock on its directory's lock file.
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join("/tmp", dirPrefix+"*"))
	for _, dir := range dirs {
		f, err := os.Open(filepath.Join(dir, "lock"))
		if err != nil {
			// No lock file: being created, or from an older layout; leave
			// recent ones alone.
			if fi, err := os.Stat(dir); err == nil && time.Since(fi.ModTime()) > time.Hour {
				os.RemoveAll(dir)
			}
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			os.RemoveAll(dir)
		}
		f.Close()
	}
}

// lockDir takes the lock that tells other test binaries dir is in use. The
// file stays open (and locked) until the process exits.
func lockDir(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("lock %s: %w", dir, err)
	}
	heldLocks = append(heldLocks, f)
	return nil
}

var heldLocks []*os.File

func withDB(u, db string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return u
	}
	parsed.Path = "/" + db
	return parsed.String()
}

// URL creates a fresh migrated database for t and returns its URL. The
// database is dropped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(setup)
	if initErr != nil {
		t.Fatalf("pgtest: %v", initErr)
	}
	name := fmt.Sprintf("%s_t%d", template, counter.Add(1))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, baseURL)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	createMu.Lock()
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+template)
	createMu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, baseURL)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return withDB(baseURL, name)
}

// New creates a fresh migrated database for t and returns a pool on it,
// closed when the test ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(URL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 20
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("pgtest: pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

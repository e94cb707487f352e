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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
// has gone (the server stops with its parent, the directory stays).
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join("/tmp", dirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
		if err == nil {
			pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
			if pid > 0 {
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
					continue
				}
			}
		} else if fi, err := os.Stat(dir); err != nil || time.Since(fi.ModTime()) < 10*time.Minute {
			continue // still starting, or unknown
		}
		os.RemoveAll(dir)
	}
}

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

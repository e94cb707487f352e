// Package migrations holds courrier's SQL schema migrations, embedded in the
// binary, and applies them after River's own.
//
// Each migration is a file NNNN_name.sql. Migrations are applied in order,
// each in its own transaction together with its row in courrier_migrations,
// so a migration that fails leaves the database as it was. Concurrent
// migrators (several `courrier serve` processes starting at once) are
// serialised by a PostgreSQL advisory lock.
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed *.sql
var files embed.FS

// lockKey is the advisory lock that serialises migrators ("courrier" in ASCII).
const lockKey int64 = 0x636f75727269

// Migration is one of courrier's own schema migrations.
type Migration struct {
	Version   int
	Name      string
	SQL       string
	AppliedAt *time.Time // nil while pending
}

// All returns courrier's migrations in the order they apply.
func All() ([]Migration, error) {
	return parse(files)
}

func parse(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	seen := map[int]string{}
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".sql")
		num, label, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %q: name must be NNNN_description.sql", name)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migration files %q and %q share version %d", other, name, v)
		}
		seen[v] = name
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: label, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Result says what a call to Migrate applied.
type Result struct {
	RiverVersions []int // River migration versions applied now
	Applied       []Migration
}

// Migrate applies River's migrations and then every pending courrier
// migration. It is safe to call from several processes at once.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (*Result, error) {
	all, err := All()
	if err != nil {
		return nil, err
	}
	return migrate(ctx, pool, all)
}

func migrate(ctx context.Context, pool *pgxpool.Pool, all []Migration) (*Result, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return nil, fmt.Errorf("migrate: take lock: %w", err)
	}
	defer func() {
		// A fresh context: the unlock must happen even if ctx was cancelled.
		_, _ = conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lockKey)
	}()

	res := &Result{}
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return nil, fmt.Errorf("migrate: river migrator: %w", err)
	}
	// Each River version runs in its own transaction: version 006 adds an
	// enum value and uses it, which PostgreSQL refuses within one transaction.
	rr, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("migrate: river: %w", err)
	}
	for _, v := range rr.Versions {
		res.RiverVersions = append(res.RiverVersions, v.Version)
	}

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS courrier_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("migrate: create courrier_migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, conn.Conn())
	if err != nil {
		return nil, err
	}
	for _, m := range all {
		if _, ok := applied[m.Version]; ok {
			continue
		}
		if err := applyOne(ctx, conn.Conn(), m); err != nil {
			return res, err
		}
		res.Applied = append(res.Applied, m)
	}
	return res, nil
}

func applyOne(ctx context.Context, conn *pgx.Conn, m Migration) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO courrier_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
		return fmt.Errorf("migration %04d_%s: record: %w", m.Version, m.Name, err)
	}
	return tx.Commit(ctx)
}

func appliedVersions(ctx context.Context, conn *pgx.Conn) (map[int]time.Time, error) {
	rows, err := conn.Query(ctx, "SELECT version, applied_at FROM courrier_migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: read courrier_migrations: %w", err)
	}
	out := map[int]time.Time{}
	for rows.Next() {
		var v int
		var at time.Time
		if err := rows.Scan(&v, &at); err != nil {
			return nil, err
		}
		out[v] = at
	}
	return out, rows.Err()
}

// Status lists every courrier migration with the time it was applied, or
// nil for pending ones, and River's current schema version.
func Status(ctx context.Context, pool *pgxpool.Pool) (list []Migration, riverVersion int, err error) {
	all, err := All()
	if err != nil {
		return nil, 0, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer conn.Release()
	applied := map[int]time.Time{}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('courrier_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return nil, 0, err
	}
	if exists {
		if applied, err = appliedVersions(ctx, conn.Conn()); err != nil {
			return nil, 0, err
		}
	}
	for i := range all {
		if at, ok := applied[all[i].Version]; ok {
			at := at
			all[i].AppliedAt = &at
		}
	}
	if err := conn.QueryRow(ctx, "SELECT to_regclass('river_migration') IS NOT NULL").Scan(&exists); err != nil {
		return nil, 0, err
	}
	if exists {
		err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM river_migration").Scan(&riverVersion)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, 0, err
		}
	}
	return all, riverVersion, nil
}

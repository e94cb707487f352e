package main

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// wantsHelp reports whether args ask only for help, so that a command's
// help never needs a database.
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" || a == "help" {
			return true
		}
	}
	return false
}

// withDB runs f on the migrated database. Help requests run f with a nil
// pool, so each package's own flag set prints its usage.
func withDB(ctx context.Context, env *Env, args []string, f func(pool *pgxpool.Pool) error) error {
	if wantsHelp(args) {
		return f(nil)
	}
	pool, closeDB, err := env.openDB(ctx, true)
	if err != nil {
		return err
	}
	defer closeDB()
	return f(pool)
}

// withDBSealed is withDB for commands that record evidence: what they
// recorded is sealed before they exit.
func withDBSealed(ctx context.Context, env *Env, args []string, f func(pool *pgxpool.Pool) error) error {
	return withDB(ctx, env, args, func(pool *pgxpool.Pool) error {
		if err := f(pool); err != nil || pool == nil {
			return err
		}
		return sealNow(ctx, env, pool)
	})
}

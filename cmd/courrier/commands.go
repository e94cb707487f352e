package main

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/compliance"
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

func runReport(ctx context.Context, env *Env, args []string) error {
	return withDB(ctx, env, args, func(pool *pgxpool.Pool) error {
		return compliance.ReportCommand(ctx, pool, env.Stdout, args)
	})
}

func runEvidence(ctx context.Context, env *Env, args []string) error {
	return withDB(ctx, env, args, func(pool *pgxpool.Pool) error {
		return compliance.EvidenceCommand(ctx, pool, env.Stdout, args)
	})
}

func runVerify(ctx context.Context, env *Env, args []string) error {
	// An evidence pack is verified offline: no database at all.
	for _, a := range args {
		if a == "--pack" || a == "-pack" || strings.HasPrefix(a, "--pack=") || strings.HasPrefix(a, "-pack=") {
			return compliance.VerifyCommand(ctx, nil, env.Stdout, args)
		}
	}
	return withDB(ctx, env, args, func(pool *pgxpool.Pool) error {
		return compliance.VerifyCommand(ctx, pool, env.Stdout, args)
	})
}

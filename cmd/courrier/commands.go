package main

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/httpapi"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/recipients"
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

func runAPIKey(ctx context.Context, env *Env, args []string) error {
	return withDB(ctx, env, args, func(pool *pgxpool.Pool) error {
		return httpapi.APIKeyCommand(ctx, pool, env.Stdout, args)
	})
}

func runImport(ctx context.Context, env *Env, args []string) error {
	return withDBSealed(ctx, env, args, func(pool *pgxpool.Pool) error {
		return recipients.ImportCommand(ctx, pool, env.Stdout, args)
	})
}

func runCampaign(ctx context.Context, env *Env, args []string) error {
	return withDBSealed(ctx, env, args, func(pool *pgxpool.Pool) error {
		if pool == nil {
			return jobs.CampaignCommand(ctx, nil, nil, env.Stdout, args)
		}
		client, err := jobs.NewInsertClient(pool, env.logger())
		if err != nil {
			return err
		}
		return jobs.CampaignCommand(ctx, pool, client, env.Stdout, args)
	})
}

func runRemind(ctx context.Context, env *Env, args []string) error {
	return withDBSealed(ctx, env, args, func(pool *pgxpool.Pool) error {
		if pool == nil {
			return jobs.RemindCommand(ctx, nil, nil, env.Stdout, args)
		}
		client, err := jobs.NewInsertClient(pool, env.logger())
		if err != nil {
			return err
		}
		return jobs.RemindCommand(ctx, pool, client, env.Stdout, args)
	})
}

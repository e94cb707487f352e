package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/courrier-dev/courrier/migrations"
)

func runMigrate(ctx context.Context, env *Env, args []string) error {
	fs := env.newFlagSet("migrate [status]", "Applies River's and courrier's pending migrations, each in a transaction.\n\"courrier migrate status\" lists them with the time each was applied.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	status := fs.NArg() > 0 && fs.Arg(0) == "status"
	if fs.NArg() > 0 && !status {
		return fmt.Errorf("migrate: unknown argument %q (want nothing or \"status\")", fs.Arg(0))
	}
	pool, closeDB, err := env.openDB(ctx, !status)
	if err != nil {
		return err
	}
	defer closeDB()
	list, riverVersion, err := migrations.Status(ctx, pool)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "river schema version\t%d\n", riverVersion)
	fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED")
	for _, m := range list {
		applied := "pending"
		if m.AppliedAt != nil {
			applied = m.AppliedAt.Format("2006-01-02 15:04:05 MST")
		}
		fmt.Fprintf(tw, "%04d\t%s\t%s\n", m.Version, m.Name, applied)
	}
	return tw.Flush()
}

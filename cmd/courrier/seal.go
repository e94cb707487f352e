package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/ledger"
)

// runSeal runs `courrier seal`: seal everything recorded so far and print
// the signed checkpoint.
func runSeal(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("seal", flag.ContinueOnError)
	fs.SetOutput(env.Stdout)
	fs.Usage = func() {
		fmt.Fprintf(env.Stdout, "usage: courrier seal\n\nAppends the events recorded since the last seal to the ledger's Merkle tree and signs a checkpoint\n(serve does this every minute; demo, send, import, campaign and remind before they exit).\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	return withDB(ctx, env, nil, func(pool *pgxpool.Pool) error {
		if err := sealNow(ctx, env, pool); err != nil {
			return err
		}
		return printCheckpoint(ctx, env, pool)
	})
}

// printCheckpoint prints the latest signed checkpoint and the public key
// that verifies it.
func printCheckpoint(ctx context.Context, env *Env, pool *pgxpool.Pool) error {
	cp, err := ledger.LatestCheckpoint(ctx, pool)
	if err != nil || cp == nil {
		return err
	}
	k, err := env.ledgerKey()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "ledger checkpoint (%d events), signed by %s:\n%s", cp.Size, k.Public, cp.Note)
	return nil
}

// demoProof ends the demo with a sealed, verified ledger and prints the
// signed checkpoint an auditor would keep.
func demoProof(ctx context.Context, env *Env, pool *pgxpool.Pool) error {
	if err := sealNow(ctx, env, pool); err != nil {
		return err
	}
	k, err := env.ledgerKey()
	if err != nil {
		return err
	}
	res, err := ledger.Verify(ctx, pool, ledger.VerifyOptions{Verifier: k.Verifier})
	if err != nil {
		return err
	}
	if !res.OK {
		return fmt.Errorf("demo: the ledger does not verify: %s", res.Breaks[0])
	}
	fmt.Fprintf(env.Stdout, "\nLedger verified: %d events sealed in a Merkle tree (root %s), %d not yet sealed; projections match for %d notices.\n",
		res.Events, res.RootHash, res.Unsealed, res.Notices)
	return printCheckpoint(ctx, env, pool)
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/compliance"
)

// runEvidence runs `courrier evidence --recipient REF` or `courrier
// evidence --rule RULE --from YYYY-MM-DD --to YYYY-MM-DD [--caf CODES]`,
// with [--format json|csv] [--out FILE]. It seals first, so the pack holds
// everything recorded so far.
func runEvidence(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("evidence", flag.ContinueOnError)
	fs.SetOutput(env.Stdout)
	ref := fs.String("recipient", "", "beneficiary number: export all of their notices")
	rule := fs.String("rule", "", "rule name: export the notices its report rests on (with --from and --to)")
	from := fs.String("from", "", "first day of the period, YYYY-MM-DD")
	to := fs.String("to", "", "last day of the period, YYYY-MM-DD")
	cafs := fs.String("caf", "", "with --rule: only these Cafs (comma-separated codes)")
	format := fs.String("format", compliance.FormatJSON, "json (verifiable offline with `courrier verify --pack`) or csv (for reading)")
	out := fs.String("out", "", "write the pack to this file instead of standard output")
	fs.Usage = func() {
		fmt.Fprintf(env.Stdout, "usage: courrier evidence (--recipient REF | --rule RULE --from YYYY-MM-DD --to YYYY-MM-DD [--caf CODES]) [--format json|csv] [--out FILE]\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	var p compliance.Period
	switch {
	case *ref != "" && *rule == "":
	case *rule != "" && *ref == "":
		if *from == "" || *to == "" {
			return fmt.Errorf("%w: --rule needs --from and --to", compliance.ErrInvalid)
		}
		var err error
		if p, err = compliance.ParsePeriod(*from, *to); err != nil {
			return err
		}
		if p.Cafs, err = compliance.ParseCafs(*cafs); err != nil {
			return err
		}
	default:
		fs.Usage()
		return fmt.Errorf("%w: give either --recipient or --rule", compliance.ErrInvalid)
	}
	key, err := env.ledgerKey()
	if err != nil {
		return err
	}
	return withDB(ctx, env, nil, func(pool *pgxpool.Pool) error {
		if err := sealNow(ctx, env, pool); err != nil {
			return err
		}
		pk := compliance.Packer{DB: pool, Key: key}
		var pack *compliance.Pack
		if *ref != "" {
			pack, err = pk.ForRecipient(ctx, *ref)
		} else {
			pack, err = pk.ForRule(ctx, *rule, p)
		}
		if err != nil {
			return err
		}
		if *out == "" {
			return compliance.WritePack(env.Stdout, pack, *format)
		}
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		if err := compliance.WritePack(f, pack, *format); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "wrote %d notices to %s (checkpoint of %d events; verify with: courrier verify --pack %s --key PUBLIC_KEY)\n",
			len(pack.Notices), *out, checkpointSize(pack), *out)
		return nil
	})
}

func checkpointSize(p *compliance.Pack) uint64 {
	var size uint64
	lines := splitLines(p.Checkpoint.Note)
	if len(lines) > 1 {
		fmt.Sscan(lines[1], &size)
	}
	return size
}

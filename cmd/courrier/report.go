package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/compliance"
)

// errRuleFailed makes `report --strict` exit non-zero when the rule fails.
var errRuleFailed = errors.New("rule failed")

func rulesHelp() string {
	var b strings.Builder
	for _, name := range compliance.RuleNames() {
		r := compliance.Rules[name]
		fmt.Fprintf(&b, "\n%s — %s\n  target: %s\n", name, r.Title, r.Target)
		for _, line := range strings.Split(r.Help, "\n") {
			fmt.Fprintf(&b, "  %s\n", line)
		}
	}
	return b.String()
}

// splitRule takes a leading positional argument (the rule) off args, so
// that both "report RULE --from …" and "report --from … RULE" work.
func splitRule(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

// runReport runs `courrier report RULE --from YYYY-MM-DD --to YYYY-MM-DD
// [--caf 751,974 | --by-caf] [--accept LEVELS] [--format table|csv|json]
// [--as-of DATE] [--strict]`. Reports read only what the sealed ledger
// establishes; a failing rule is a result, not an error, unless --strict.
func runReport(ctx context.Context, env *Env, args []string) error {
	rule, args := splitRule(args)
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(env.Stdout)
	from := fs.String("from", "", "first day of the period, YYYY-MM-DD (Paris time, included)")
	to := fs.String("to", "", "last day of the period, YYYY-MM-DD (Paris time, included)")
	format := fs.String("format", compliance.FormatTable, "output format: table, csv or json")
	asOf := fs.String("as-of", "", "judge open requests and count deliveries as of this date or RFC 3339 time (default now)")
	cafs := fs.String("caf", "", `only these Cafs, comma-separated codes (e.g. 751,974; "none" for beneficiaries without a Caf)`)
	byCaf := fs.Bool("by-caf", false, "national report with a per-Caf breakdown")
	accept := fs.String("accept", "", "evidence levels counted as delivery besides the proven ones (default COURRIER_ACCEPT_EVIDENCE; \"all\")")
	strict := fs.Bool("strict", false, "exit non-zero when the rule fails")
	fs.Usage = func() {
		fmt.Fprintf(env.Stdout, "usage: courrier report RULE --from YYYY-MM-DD --to YYYY-MM-DD [--caf CODES | --by-caf] [--accept LEVELS] [--format table|csv|json] [--as-of DATE] [--strict]\n\nflags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(env.Stdout, "\nevidence levels: %s\n\nrules:\n%s", levelsHelp(), rulesHelp())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if rule == "" {
		rule = fs.Arg(0)
	}
	if rule == "" || *from == "" || *to == "" {
		fs.Usage()
		return fmt.Errorf("%w: report needs a rule, --from and --to", compliance.ErrInvalid)
	}
	p, err := compliance.ParsePeriod(*from, *to)
	if err != nil {
		return err
	}
	if p.AsOf, err = compliance.ParseAsOf(*asOf); err != nil {
		return err
	}
	if p.Cafs, err = compliance.ParseCafs(*cafs); err != nil {
		return err
	}
	if *byCaf && len(p.Cafs) > 0 {
		return fmt.Errorf("%w: --by-caf and --caf cannot be combined", compliance.ErrInvalid)
	}
	if p.Accept, err = env.acceptEvidence(); err != nil {
		return err
	}
	if *accept != "" {
		extra, err := compliance.ParseAccept(*accept)
		if err != nil {
			return err
		}
		p.Accept = append(compliance.DefaultAccepted(), extra...)
	}
	return withDB(ctx, env, nil, func(pool *pgxpool.Pool) error {
		run := compliance.Run
		if *byCaf {
			run = compliance.RunByCaf
		}
		rep, err := run(ctx, pool, rule, p)
		if err != nil {
			return err
		}
		if err := compliance.Write(env.Stdout, rep, *format); err != nil {
			return err
		}
		if *strict && !rep.Pass {
			return fmt.Errorf("%w: %s", errRuleFailed, rule)
		}
		return nil
	})
}

func levelsHelp() string {
	var parts []string
	for _, l := range compliance.DefaultAccepted() {
		parts = append(parts, l+" (proven)")
	}
	for lvl, s := range compliance.EvidenceLevels {
		if s != "proven" {
			parts = append(parts, lvl+" ("+s+")")
		}
	}
	return strings.Join(parts, ", ")
}

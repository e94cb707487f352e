package compliance

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/ledger"
)

// ErrRuleFailed is returned by ReportCommand with --strict when the rule
// fails, and ErrLedgerBroken by VerifyCommand when verification fails, so
// that the process exits non-zero.
var (
	ErrRuleFailed   = errors.New("rule failed")
	ErrLedgerBroken = errors.New("ledger does not verify")
)

func rulesHelp() string {
	var b strings.Builder
	for _, name := range RuleNames() {
		r := Rules[name]
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

func parseAsOf(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, s, Paris)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: as-of %q: want YYYY-MM-DD or RFC 3339", ErrInvalid, s)
	}
	return t, nil
}

// ReportCommand runs `courrier report RULE --from YYYY-MM-DD --to YYYY-MM-DD
// [--format table|csv|json] [--as-of DATE] [--strict]` and writes the report
// to w. A failing rule is a result, not an error, unless --strict is given.
func ReportCommand(ctx context.Context, db DB, w io.Writer, args []string) error {
	rule, args := splitRule(args)
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(w)
	from := fs.String("from", "", "first day of the period, YYYY-MM-DD (Paris time, included)")
	to := fs.String("to", "", "last day of the period, YYYY-MM-DD (Paris time, included)")
	format := fs.String("format", FormatTable, "output format: table, csv or json")
	asOf := fs.String("as-of", "", "judge open requests and count deliveries as of this date or RFC 3339 time (default now)")
	strict := fs.Bool("strict", false, "exit non-zero when the rule fails")
	fs.Usage = func() {
		fmt.Fprintf(w, "usage: courrier report RULE --from YYYY-MM-DD --to YYYY-MM-DD [--format table|csv|json] [--as-of DATE] [--strict]\n\nflags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(w, "\nrules:\n%s", rulesHelp())
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
		return fmt.Errorf("%w: report needs a rule, --from and --to", ErrInvalid)
	}
	p, err := ParsePeriod(*from, *to)
	if err != nil {
		return err
	}
	if p.AsOf, err = parseAsOf(*asOf); err != nil {
		return err
	}
	rep, err := Run(ctx, db, rule, p)
	if err != nil {
		return err
	}
	if err := Write(w, rep, *format); err != nil {
		return err
	}
	if *strict && !rep.Pass {
		return fmt.Errorf("%w: %s", ErrRuleFailed, rule)
	}
	return nil
}

// EvidenceCommand runs `courrier evidence --recipient REF` or `courrier
// evidence --rule RULE --from YYYY-MM-DD --to YYYY-MM-DD`, with
// [--format json|csv] [--out FILE]; the pack goes to FILE or to w.
func EvidenceCommand(ctx context.Context, db DB, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("evidence", flag.ContinueOnError)
	fs.SetOutput(w)
	ref := fs.String("recipient", "", "beneficiary number: export all of their notices")
	rule := fs.String("rule", "", "rule name: export the notices its report rests on (with --from and --to)")
	from := fs.String("from", "", "first day of the period, YYYY-MM-DD")
	to := fs.String("to", "", "last day of the period, YYYY-MM-DD")
	format := fs.String("format", FormatJSON, "json (verifiable offline with `courrier verify --pack`) or csv (for reading)")
	out := fs.String("out", "", "write the pack to this file instead of standard output")
	fs.Usage = func() {
		fmt.Fprintf(w, "usage: courrier evidence (--recipient REF | --rule RULE --from YYYY-MM-DD --to YYYY-MM-DD) [--format json|csv] [--out FILE]\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	var pack *Pack
	var err error
	switch {
	case *ref != "" && *rule == "":
		pack, err = ForRecipient(ctx, db, *ref)
	case *rule != "" && *ref == "":
		if *from == "" || *to == "" {
			return fmt.Errorf("%w: --rule needs --from and --to", ErrInvalid)
		}
		var p Period
		if p, err = ParsePeriod(*from, *to); err != nil {
			return err
		}
		pack, err = ForRule(ctx, db, *rule, p)
	default:
		fs.Usage()
		return fmt.Errorf("%w: give either --recipient or --rule", ErrInvalid)
	}
	if err != nil {
		return err
	}
	if *out == "" {
		return WritePack(w, pack, *format)
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := WritePack(f, pack, *format); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %d notices to %s\n", len(pack.Notices), *out)
	return nil
}

// VerifyCommand runs `courrier verify`: it recomputes the database's hash
// chain (pool is needed), or with --pack FILE verifies an evidence pack
// offline (pool may be nil). It returns an error wrapping ErrLedgerBroken or
// ErrPackInvalid when verification fails.
func VerifyCommand(ctx context.Context, pool *pgxpool.Pool, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(w)
	packFile := fs.String("pack", "", "verify this evidence pack (JSON) offline instead of the database")
	fs.Usage = func() {
		fmt.Fprintf(w, "usage: courrier verify [--pack FILE]\n\nWithout --pack, recomputes the whole ledger hash chain and reports the first broken link.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *packFile != "" {
		f, err := os.Open(*packFile)
		if err != nil {
			return err
		}
		defer f.Close()
		pack, err := ReadPack(f)
		if err != nil {
			return err
		}
		check, err := CheckPack(pack)
		if err != nil {
			fmt.Fprintf(w, "FAIL %s\n", err)
			return err
		}
		fmt.Fprintf(w, "OK pack %s: %d notices, %d events verified against their chain hashes (%d seal heads linked), %d not sealed yet; %d contents match their hashes, %d purged\n",
			*packFile, check.Notices, check.EventsVerified, check.SealHeadsLinked, check.EventsUnsealed, check.ContentVerified, check.ContentPurged)
		for _, s := range pack.Seals {
			fmt.Fprintf(w, "seal %d positions %d-%d head %s sealed %s\n", s.ID, s.FirstPosition, s.LastPosition, s.HeadHash, s.SealedAt.Format(time.RFC3339))
		}
		return nil
	}
	if pool == nil {
		return errors.New("verify: no database")
	}
	res, err := ledger.Verify(ctx, pool)
	if err != nil {
		return err
	}
	if !res.OK {
		fmt.Fprintf(w, "FAIL after %d good events: %s\n", res.Events, res.Break)
		return fmt.Errorf("%w: %s", ErrLedgerBroken, res.Break)
	}
	fmt.Fprintf(w, "OK %d events chained in %d seals; head position %d (event %d) hash %s; %d events waiting for the next seal\n",
		res.Events, res.Seals, res.HeadPosition, res.HeadEventID, res.HeadHash, res.Unsealed)
	return nil
}

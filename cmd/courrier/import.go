package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/recipients"
)

const importUsage = `Usage:
  courrier import recipients [--batch N] [--show N] [--dry-run] [--max-rejected N] [--encoding E] FILE.csv|FILE.xlsx

Imports or updates beneficiaries from a CSV file or an Excel workbook
(.xlsx, first sheet). CSV may be UTF-8 (with or without BOM) or
Windows-1252, as Excel exports "CSV (séparateur : point-virgule)" in France
(detected; --encoding utf-8|windows-1252 to say it), separated by ";" or ","
(detected from the header line). Header names
in English or French: ref|numero_allocataire (required), civility|civilite,
given_name|prenom, family_name|nom, email, phone|telephone,
address_line1|adresse, address_line2|complement, postal_code|code_postal,
city|ville, country|pays, language|langue, benefits|prestations (codes
separated by "|" or spaces), consent_email, consent_sms, consent_letter,
outreach_opt_out, active (oui/non, true/false, 1/0), caf|code_caf (the
beneficiary's Caf code in COURRIER_AGENCIES; default: the Caf of the postal
code).

Rows are committed in batches: an interrupted import can be run again, rows
already imported come out unchanged. Bad rows are listed by line number and
field, never with their values. --dry-run checks every row and writes
nothing.

Exit status: non-zero when more than --max-rejected rows (default 0) were
rejected; the good rows are imported all the same (not with --dry-run).
`

// ErrRejectedRows is returned by `courrier import` when more rows were
// rejected than --max-rejected allows.
var ErrRejectedRows = errors.New("rows were rejected")

func runImport(ctx context.Context, env *Env, args []string) error {
	w := env.Stdout
	if len(args) > 0 && args[0] == "recipients" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("import recipients", flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() { _, _ = io.WriteString(w, importUsage) }
	batch := fs.Int("batch", 1000, "rows per transaction")
	show := fs.Int("show", 20, "rejected rows to list")
	dryRun := fs.Bool("dry-run", false, "check every row, write nothing")
	maxRejected := fs.Int("max-rejected", 0, "rejected rows tolerated before the exit status is non-zero")
	encodingFlag := fs.String("encoding", "", "CSV encoding: utf-8 or windows-1252 (default: detected)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("import recipients: give one CSV file")
	}
	if *maxRejected < 0 {
		return errors.New("import recipients: --max-rejected must be 0 or more")
	}
	encoding, err := recipients.ParseEncoding(*encodingFlag)
	if err != nil {
		return fmt.Errorf("import recipients: --encoding: %w", err)
	}
	set, err := env.loadAgencies()
	if err != nil {
		return fmt.Errorf("import recipients: %w", err)
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("import recipients: %w", err)
	}
	defer f.Close()
	return withDBSealed(ctx, env, nil, func(pool *pgxpool.Pool) error {
		sum, err := recipients.Import(ctx, pool, f, recipients.ImportOpts{BatchSize: *batch, Actor: "import:cli",
			MaxRejections: max(*show, 1), DryRun: *dryRun, Encoding: encoding, Agencies: set})
		if sum != nil {
			if sum.DryRun {
				fmt.Fprintf(w, "dry run: nothing was written\nrows read:  %d\nvalid:      %d\nrejected:   %d\n", sum.Rows, sum.Valid, sum.Rejected)
			} else {
				fmt.Fprintf(w, "rows read:  %d\ninserted:   %d\nupdated:    %d\nunchanged:  %d\nrejected:   %d\n",
					sum.Rows, sum.Inserted, sum.Updated, sum.Unchanged, sum.Rejected)
			}
			for i, r := range sum.Rejections {
				if i >= *show {
					break
				}
				fmt.Fprintln(w, "  "+r.String())
			}
			if sum.Rejected > *show {
				fmt.Fprintf(w, "  … and %d more rejected rows\n", sum.Rejected-*show)
			}
		}
		if err != nil {
			return fmt.Errorf("import recipients: %w (rows committed so far are kept; run again to resume)", err)
		}
		if sum.Rejected > *maxRejected {
			return fmt.Errorf("import recipients: %w: %d (more than --max-rejected %d)", ErrRejectedRows, sum.Rejected, *maxRejected)
		}
		return nil
	})
}

package recipients

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/agencies"
)

const importUsage = `Usage:
  courrier import recipients [--batch N] [--show N] [--encoding E] FILE.csv|FILE.xlsx

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
field, never with their values.
`

// ImportCommand implements "courrier import recipients FILE.csv" (args may
// start with "recipients") and writes the summary and the first rejected
// rows to w.
func ImportCommand(ctx context.Context, db *pgxpool.Pool, w io.Writer, args []string) error {
	if len(args) > 0 && args[0] == "recipients" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("import recipients", flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() { _, _ = io.WriteString(w, importUsage) }
	batch := fs.Int("batch", 1000, "rows per transaction")
	show := fs.Int("show", 20, "rejected rows to list")
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
	encoding, err := ParseEncoding(*encodingFlag)
	if err != nil {
		return fmt.Errorf("import recipients: --encoding: %w", err)
	}
	set, err := agencies.LoadFile(os.Getenv(agencies.EnvFile))
	if err != nil {
		return fmt.Errorf("import recipients: %s: %w", agencies.EnvFile, err)
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("import recipients: %w", err)
	}
	defer f.Close()
	sum, err := Import(ctx, db, f, ImportOpts{BatchSize: *batch, Actor: "import:cli", MaxRejections: max(*show, 1), Agencies: set, Encoding: encoding})
	if sum != nil {
		fmt.Fprintf(w, "rows read:  %d\ninserted:   %d\nupdated:    %d\nunchanged:  %d\nrejected:   %d\n",
			sum.Rows, sum.Inserted, sum.Updated, sum.Unchanged, sum.Rejected)
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
	return nil
}

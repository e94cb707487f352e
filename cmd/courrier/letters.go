package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/channels/letters"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/templates"
)

const lettersUsage = `Usage: courrier letters <subcommand> [flags]

  preview KIND [--data FILE.json] --out FILE.pdf
            render the letter of KIND (sample data unless --data) as a PDF
  batches [--json] [--limit N]
            list the print batches and their letters' states
  batch     run a cut-off now: batch every queued letter, hand the batch to
            the print house, then read its waiting receipts
  receipts [FILE…]
            record receipt files (ack: batch_id,letter_id,status,date;
            returned: letter_id,date,reason); without FILE, read the print
            house's out/ directory
  returned FILE | --letter L123 --reason NPAI [--date YYYY-MM-DD]
            record returned mail: the address becomes undeliverable and the
            notice moves to its next channel or ends not reached
  reproduce LETTER --out FILE.pdf
            render a sent letter again and say whether it is byte-identical
            to the PDF whose SHA-256 the ledger holds

The print house, cut-off and spool come from COURRIER_PRINT_*, COURRIER_LETTER_*
(see README, "Letters").
`

func runLetters(ctx context.Context, env *Env, args []string) error {
	sub, rest, fs, err := env.subcommandFlags("letters", lettersUsage, "", args)
	if fs == nil {
		return err
	}
	data := fs.String("data", "", "preview: notice data as JSON")
	out := fs.String("out", "", "preview, reproduce: PDF file to write")
	asJSON := fs.Bool("json", false, "batches: print JSON")
	limit := fs.Int("limit", 20, "batches: how many")
	letter := fs.String("letter", "", "returned: letter id (L123)")
	reason := fs.String("reason", "NPAI", "returned: NPAI, ADRESSE_INCOMPLETE, REFUSE, DECEDE or NON_RECLAME")
	date := fs.String("date", time.Now().Format("2006-01-02"), "returned: date the letter came back")
	var positional []string
	for len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		positional, rest = append(positional, rest[0]), rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	positional = append(positional, fs.Args()...)

	if sub == "preview" {
		return lettersPreview(env, positional, *data, *out)
	}
	return withDB(ctx, env, nil, func(pool *pgxpool.Pool) error {
		logger := env.logger()
		cfg, _, err := env.letterConfig(pool, logger)
		if err != nil {
			return err
		}
		client, err := jobs.NewInsertClient(pool, jobs.QuietLogger(logger, slog.LevelWarn))
		if err != nil {
			return err
		}
		switch sub {
		case "batches":
			bs, err := letters.Batches(ctx, pool, *limit)
			if err != nil {
				return err
			}
			if *asJSON {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(bs)
			}
			printBatches(env, bs)
			return nil
		case "batch":
			bs, results, err := jobs.RunLetterCutoff(ctx, cfg, client, time.Now())
			printBatches(env, bs)
			printIngest(env, results)
			if len(bs) == 0 && err == nil {
				fmt.Fprintln(env.Stdout, "no letter waiting")
			}
			return err
		case "receipts":
			if len(positional) == 0 {
				results, err := jobs.PollLetterReceipts(ctx, pool, client, cfg.Batch.House)
				printIngest(env, results)
				return err
			}
			for _, f := range positional {
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				var res letters.IngestResult
				if bytes.HasPrefix(b, []byte("letter_id,")) {
					res, err = jobs.IngestReturnedFile(ctx, pool, client, filepath.Base(f), b)
				} else {
					res, err = letters.IngestAck(ctx, pool, filepath.Base(f), b)
				}
				if err != nil {
					return err
				}
				printIngest(env, []letters.IngestResult{res})
			}
			return nil
		case "returned":
			var res letters.IngestResult
			if len(positional) > 0 {
				b, err := os.ReadFile(positional[0])
				if err != nil {
					return err
				}
				res, err = jobs.IngestReturnedFile(ctx, pool, client, filepath.Base(positional[0]), b)
				if err != nil {
					return err
				}
			} else {
				day, err := time.ParseInLocation("2006-01-02", *date, time.Local)
				if err != nil {
					return fmt.Errorf("--date %q: want YYYY-MM-DD", *date)
				}
				res, err = jobs.RecordReturnedLetters(ctx, pool, client, []letters.ReturnRow{{Letter: *letter, Date: day, Reason: strings.ToUpper(*reason)}})
				if err != nil {
					return err
				}
			}
			printIngest(env, []letters.IngestResult{res})
			return nil
		case "reproduce":
			if len(positional) != 1 || *out == "" {
				return fmt.Errorf("letters reproduce: want a letter id and --out FILE.pdf")
			}
			id, ok := letters.ParseRef(positional[0])
			if !ok {
				return fmt.Errorf("letters reproduce: %q is not a letter id (L123)", positional[0])
			}
			pdf, same, err := letters.ReproducePDF(ctx, pool, id)
			if err != nil {
				return err
			}
			if err := os.WriteFile(*out, pdf, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s written; byte-identical to the recorded PDF: %v\n", *out, same)
			if !same {
				return fmt.Errorf("letter %s: reproduction differs from the recorded hash", positional[0])
			}
			return nil
		}
		return fmt.Errorf("letters: unknown subcommand %q (see courrier letters --help)", sub)
	})
}

func lettersPreview(env *Env, args []string, dataFile, out string) error {
	if len(args) != 1 || out == "" {
		return fmt.Errorf("letters preview: want KIND and --out FILE.pdf")
	}
	set, err := templates.Load(&templates.Options{OverrideDir: env.Getenv("COURRIER_TEMPLATES")})
	if err != nil {
		return err
	}
	var data map[string]any
	if dataFile != "" {
		b, err := os.ReadFile(dataFile)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&data); err != nil {
			return fmt.Errorf("--data %s: %w", dataFile, err)
		}
	}
	r := templates.SampleRecipient()
	l, err := letters.Preview(set, args[0], data, r, letters.SampleAddress(r), letters.SenderFor(templates.DefaultAgency()), time.Now())
	if err != nil {
		return err
	}
	b, pages, err := letters.RenderBytes(l)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: %d page(s), %d bytes\n", out, pages, len(b))
	return nil
}

func printBatches(env *Env, bs []letters.Batch) {
	if len(bs) == 0 {
		return
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BATCH\tCUT-OFF\tSTATE\tLETTERS\tPAGES\tSHEETS\tLETTER STATES\tPRINT HOUSE")
	for _, b := range bs {
		var states []string
		for _, s := range []string{"batched", "handed", "printed", "posted", "returned"} {
			if n := b.Receipts[s]; n > 0 {
				states = append(states, fmt.Sprintf("%s %d", s, n))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", b.ID, b.CutoffAt.Format(time.RFC3339), b.State, b.Letters, b.Pages,
			b.Sheets, strings.Join(states, ", "), b.PrintHouse)
	}
	_ = tw.Flush()
}

func printIngest(env *Env, results []letters.IngestResult) {
	for _, r := range results {
		switch {
		case r.Duplicate:
			fmt.Fprintf(env.Stdout, "%s: already recorded (duplicate file), nothing changed\n", r.File)
		default:
			fmt.Fprintf(env.Stdout, "%s: %d rows, %d recorded, %d already known", r.File, r.Rows, r.Applied, r.Stale)
			if len(r.Unknown) > 0 {
				fmt.Fprintf(env.Stdout, ", %d unknown letters: %s", len(r.Unknown), strings.Join(r.Unknown, " "))
			}
			fmt.Fprintln(env.Stdout)
		}
	}
}

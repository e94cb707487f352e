package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/channels/letters"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/templates"
)

// letterConfig reads the letter settings: the spool, the print house, the
// cut-off and the postage classes.
//
//	COURRIER_LETTER_SPOOL      spool and batch directory (default <outbox>/letter)
//	COURRIER_LETTER_CUTOFF     daily cut-off, Europe/Paris (default 16:00)
//	COURRIER_LETTER_POSTAGE    kind=class;… (lettre_verte, lettre_prioritaire, lettre_recommandee)
//	COURRIER_LETTER_KEEP_PDF   1: keep each letter's PDF after handover (the demo does)
//	COURRIER_PRINT_HOUSE       dropdir (default) or sftp
//	COURRIER_PRINT_DIR         drop directory (default <outbox>/print)
//	COURRIER_PRINT_SFTP_ADDR, _USER, _KEY_FILE, _HOST_KEY, _DIR   the SFTP print house
func (e *Env) letterConfig(pool *pgxpool.Pool, logger *slog.Logger) (*jobs.LetterConfig, string, error) {
	spool := e.get("COURRIER_LETTER_SPOOL", filepath.Join(e.outboxDir(), "letter"))
	cutoff, err := letters.ParseCutoff(e.get("COURRIER_LETTER_CUTOFF", "16:00"))
	if err != nil {
		return nil, "", fmt.Errorf("COURRIER_LETTER_CUTOFF: %w", err)
	}
	house, err := e.printHouse()
	if err != nil {
		return nil, "", err
	}
	cfg := &jobs.LetterConfig{Cutoff: cutoff, Logger: logger, Batch: letters.BatchConfig{
		Pool: pool, SpoolDir: spool, House: house, KeepPDF: e.Getenv("COURRIER_LETTER_KEEP_PDF") == "1",
	}}
	return cfg, spool, nil
}

func (e *Env) printHouse() (letters.PrintHouse, error) {
	switch kind := e.get("COURRIER_PRINT_HOUSE", "dropdir"); kind {
	case "dropdir":
		return &letters.DropDir{Dir: e.get("COURRIER_PRINT_DIR", filepath.Join(e.outboxDir(), "print"))}, nil
	case "sftp":
		keyFile := e.Getenv("COURRIER_PRINT_SFTP_KEY_FILE")
		key, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("COURRIER_PRINT_SFTP_KEY_FILE: %w", err)
		}
		house, err := letters.NewSFTP(letters.SFTPConfig{
			Addr: e.Getenv("COURRIER_PRINT_SFTP_ADDR"), User: e.Getenv("COURRIER_PRINT_SFTP_USER"), Key: key,
			HostKey: e.Getenv("COURRIER_PRINT_SFTP_HOST_KEY"), Dir: e.get("COURRIER_PRINT_SFTP_DIR", "."),
		})
		if err != nil {
			return nil, fmt.Errorf("COURRIER_PRINT_HOUSE=sftp: %w", err)
		}
		return house, nil
	default:
		return nil, fmt.Errorf("COURRIER_PRINT_HOUSE: %q: want dropdir or sftp", kind)
	}
}

// setupLetters makes the letter channel real: letters become PDFs queued for
// the daily print batch, whatever other providers are configured.
// COURRIER_LETTER=outbox keeps the plain-text outbox letters instead.
func (e *Env) setupLetters(pool *pgxpool.Pool, rt *runtime, chans map[channels.Name]channels.Channel, logger *slog.Logger) error {
	cfg, spool, err := e.letterConfig(pool, logger)
	if err != nil {
		return err
	}
	rt.deps.Letters = cfg
	if e.Getenv("COURRIER_LETTER") == "outbox" {
		return nil
	}
	postage := letters.DefaultPostage
	if spec := e.Getenv("COURRIER_LETTER_POSTAGE"); spec != "" {
		if postage, err = letters.ParsePostage(spec); err != nil {
			return fmt.Errorf("COURRIER_LETTER_POSTAGE: %w", err)
		}
	}
	ch, err := letters.New(letters.Config{Pool: pool, SpoolDir: spool, Postage: postage,
		Sender: letters.SenderFor(templates.DefaultAgency())})
	if err != nil {
		return err
	}
	chans[channels.Letter] = ch
	rt.describe[channels.Letter] = fmt.Sprintf("PDF letters in %s, print batches at %s to %s", spool, cfg.Cutoff, cfg.Batch.House.Name())
	return nil
}

// serveLetters adds the daily cut-off job and its worker to serve.
func serveLetters(deps *jobs.Deps, periodic []*river.PeriodicJob) []*river.PeriodicJob {
	if deps.Letters == nil {
		return periodic
	}
	return append(periodic, jobs.LetterPeriodicJobs(deps.Letters.Cutoff)...)
}

func addLetterWorkers(w *river.Workers, deps *jobs.Deps) error {
	if deps.Letters == nil {
		return nil
	}
	return jobs.AddLetterWorkers(w, deps.Letters)
}

// demoPrintBatch runs a cut-off now once every demo notice but the queued
// letters is settled, so that the demo leaves a print batch in the outbox.
func demoPrintBatch(ctx context.Context, pool *pgxpool.Pool, deps *jobs.Deps, client *river.Client[pgx.Tx], ids []int64, sum *demoSummary) error {
	if deps.Letters == nil || sum.batched {
		return nil
	}
	var others int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM notices
		WHERE recipient_id = ANY($1) AND state NOT IN ('delivered', 'failed', 'no_route', 'cancelled')
		  AND NOT (state = 'sent' AND channel = 'letter')`, ids).Scan(&others); err != nil {
		return err
	}
	if others > 0 {
		return nil
	}
	deps.Letters.Batch.KeepPDF = true // the demo leaves each letter's PDF in the outbox
	batches, _, err := jobs.RunLetterCutoff(ctx, deps.Letters, client, time.Now())
	if err != nil {
		return fmt.Errorf("demo print batch: %w", err)
	}
	sum.batched, sum.Batches = true, batches
	sum.PrintDir = deps.Letters.Batch.House.Name()
	return nil
}

func (s *demoSummary) printLetters(w interface{ Write([]byte) (int, error) }) {
	for _, b := range s.Batches {
		fmt.Fprintf(w, "\nPrint batch %s handed to %s: %d letters, %d pages, %d sheets (in/%s: merged PDF per postage class, manifest.csv, manifest.json, SHA256SUMS)\n",
			b.ID, b.PrintHouse, b.Letters, b.Pages, b.Sheets, b.ID)
	}
}

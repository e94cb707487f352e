package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/channels/letters"
	"github.com/courrier-dev/courrier/recipients"
)

// LetterConfig is what the letter jobs need: the batch settings (pool,
// spool, print house) and the daily cut-off.
type LetterConfig struct {
	Batch  letters.BatchConfig
	Cutoff letters.Cutoff
	Logger *slog.Logger
}

// LetterCutoffArgs runs the day's print batch: letters queued up to the
// latest cut-off are batched and handed to the print house, then waiting
// receipts are read.
type LetterCutoffArgs struct{}

// Kind is the River job kind.
func (LetterCutoffArgs) Kind() string { return "letter_cutoff" }

// InsertOpts: one at a time; a failed handover is retried (it resumes).
func (LetterCutoffArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 20, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// LetterCutoffWorker works LetterCutoffArgs.
type LetterCutoffWorker struct {
	river.WorkerDefaults[LetterCutoffArgs]
	Cfg *LetterConfig
}

// Work batches, hands over and reads receipts.
func (w *LetterCutoffWorker) Work(ctx context.Context, job *river.Job[LetterCutoffArgs]) error {
	client := river.ClientFromContext[pgx.Tx](ctx)
	now := time.Now()
	if w.Cfg.Batch.Now != nil {
		now = w.Cfg.Batch.Now()
	}
	cutoff := w.Cfg.Cutoff.Last(now)
	_, _, err := RunLetterCutoff(ctx, w.Cfg, client, cutoff)
	return err
}

// RunLetterCutoff runs the batch of cutoff and reads the print house's
// waiting receipts (client re-routes the notices of returned letters).
func RunLetterCutoff(ctx context.Context, cfg *LetterConfig, client *river.Client[pgx.Tx], cutoff time.Time) ([]letters.Batch, []letters.IngestResult, error) {
	batches, err := letters.RunBatch(ctx, cfg.Batch, cutoff)
	for _, b := range batches {
		cfg.log().Info("print batch handed", "batch_id", b.ID, "letters", b.Letters, "sheets", b.Sheets, "print_house", b.PrintHouse)
	}
	if err != nil {
		return batches, nil, err
	}
	results, err := PollLetterReceipts(ctx, cfg.Batch.Pool, client, cfg.Batch.House)
	return batches, results, err
}

func (c *LetterConfig) log() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

// LetterReceiptsArgs reads the print house's waiting receipts (between
// cut-offs, so that returned mail is re-routed within the hour).
type LetterReceiptsArgs struct{}

// Kind is the River job kind.
func (LetterReceiptsArgs) Kind() string { return "letter_receipts" }

// InsertOpts: one at a time.
func (LetterReceiptsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// LetterReceiptsWorker works LetterReceiptsArgs.
type LetterReceiptsWorker struct {
	river.WorkerDefaults[LetterReceiptsArgs]
	Cfg *LetterConfig
}

// Work reads the receipts.
func (w *LetterReceiptsWorker) Work(ctx context.Context, job *river.Job[LetterReceiptsArgs]) error {
	results, err := PollLetterReceipts(ctx, w.Cfg.Batch.Pool, river.ClientFromContext[pgx.Tx](ctx), w.Cfg.Batch.House)
	for _, r := range results {
		w.Cfg.log().Info("print receipts recorded", "file", r.File, "rows", r.Rows, "applied", r.Applied,
			"unknown", len(r.Unknown), "duplicate", r.Duplicate)
	}
	return err
}

// LetterPeriodicJobs runs the cut-off at each working day's cut-off time,
// and reads receipts every hour.
func LetterPeriodicJobs(c letters.Cutoff) []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(c, func() (river.JobArgs, *river.InsertOpts) {
			return LetterCutoffArgs{}, nil
		}, &river.PeriodicJobOpts{ID: "letter_cutoff"}),
		river.NewPeriodicJob(river.PeriodicInterval(time.Hour), func() (river.JobArgs, *river.InsertOpts) {
			return LetterReceiptsArgs{}, nil
		}, &river.PeriodicJobOpts{ID: "letter_receipts"}),
	}
}

// AddLetterWorkers registers the letter workers.
func AddLetterWorkers(w *river.Workers, cfg *LetterConfig) error {
	if err := river.AddWorkerSafely(w, &LetterCutoffWorker{Cfg: cfg}); err != nil {
		return err
	}
	return river.AddWorkerSafely(w, &LetterReceiptsWorker{Cfg: cfg})
}

// PollLetterReceipts reads every receipt file waiting at the print house
// (ack-*.csv: printed/posted; returned-*.csv: returned mail), records it and
// archives it. A file that cannot be parsed is left in place and reported.
func PollLetterReceipts(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], house letters.PrintHouse) ([]letters.IngestResult, error) {
	names, err := house.Receipts(ctx)
	if err != nil {
		return nil, err
	}
	var out []letters.IngestResult
	var errs []error
	for _, name := range names {
		b, err := house.Fetch(ctx, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var res letters.IngestResult
		if strings.HasPrefix(name, "returned") {
			res, err = IngestReturnedFile(ctx, pool, client, name, b)
		} else {
			res, err = letters.IngestAck(ctx, pool, name, b)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, res)
		if err := house.Done(ctx, name); err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// IngestReturnedFile records a returned-mail file (CSV
// letter_id,date,reason). The same bytes read twice change nothing.
func IngestReturnedFile(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], name string, b []byte) (letters.IngestResult, error) {
	rows, err := letters.ParseReturns(b)
	if err != nil {
		return letters.IngestResult{File: name}, fmt.Errorf("%s: %w", name, err)
	}
	return ingestReturned(ctx, pool, client, name, b, rows)
}

// RecordReturnedLetters records returned letters reported through the API.
func RecordReturnedLetters(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], rows []letters.ReturnRow) (letters.IngestResult, error) {
	for i, r := range rows {
		if err := r.Check(); err != nil {
			return letters.IngestResult{}, fmt.Errorf("returns[%d]: %w", i, err)
		}
		if r.Date.IsZero() {
			return letters.IngestResult{}, fmt.Errorf("returns[%d]: date is required", i)
		}
	}
	return ingestReturned(ctx, pool, client, "api", nil, rows)
}

// ingestReturned, in one transaction, records each returned letter, marks
// the beneficiary's postal address undeliverable and puts the notice back to
// pending with a deliver job: the router then tries the next channel of the
// route, or ends the notice no_route ("postal address undeliverable"), which
// compliance reports count as not reached.
func ingestReturned(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], name string, b []byte, rows []letters.ReturnRow) (letters.IngestResult, error) {
	res := letters.IngestResult{File: name, Rows: len(rows)}
	source := "api"
	if b != nil {
		source = "file " + name
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if b != nil {
			fresh, err := letters.ClaimReturnedFile(ctx, tx, name, b)
			if err != nil {
				return err
			}
			if !fresh {
				res.Duplicate = true
				return nil
			}
		}
		for _, r := range rows {
			ret, known, again, err := letters.RecordReturned(ctx, tx, r, source)
			if err != nil {
				return err
			}
			switch {
			case !known:
				res.Unknown = append(res.Unknown, r.Letter)
				continue
			case again:
				res.Stale++
				continue
			}
			if err := recipients.MarkAddressUndeliverable(ctx, tx, ret.RecipientID, "letter "+ret.Letter+" returned: "+r.Reason); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `
				UPDATE notices SET state = 'pending', channel = '', delivered_at = NULL, state_reason = 'letter returned: ' || $2, updated_at = now()
				WHERE id = $1 AND state <> 'cancelled'`, ret.NoticeID, r.Reason); err != nil {
				return err
			}
			if _, err := client.InsertTx(ctx, tx, DeliverArgs{NoticeID: ret.NoticeID}, nil); err != nil {
				return fmt.Errorf("re-route notice %d: %w", ret.NoticeID, err)
			}
			res.Applied++
		}
		if b != nil {
			return letters.FinishReturnedFile(ctx, tx, b, &res)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("returned letters %s: %w", name, err)
	}
	return res, nil
}

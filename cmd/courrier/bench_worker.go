package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/internal/bench"
)

// spawnBenchWorker returns how `bench --processes N` starts each extra
// worker process: this binary's bench-worker command, on the benchmark's
// database, with the same settings.
func spawnBenchWorker(dbURL string, pool, workers, bulk int, cooldown time.Duration, conns, batch, fanoutBatch int) func(ctx context.Context, smtpURL, twilioURL string) (func() (time.Duration, error), error) {
	return func(ctx context.Context, smtpURL, twilioURL string) (func() (time.Duration, error), error) {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(exe, "bench-worker",
			"--pool", strconv.Itoa(pool), "--workers", strconv.Itoa(workers), "--bulk-workers", strconv.Itoa(bulk),
			"--fetch-cooldown", cooldown.String(), "--smtp-connections", strconv.Itoa(conns),
			"--batch", strconv.Itoa(batch), "--fanout-batch", strconv.Itoa(fanoutBatch))
		cmd.Env = append(os.Environ(), "COURRIER_BENCH_DATABASE_URL="+dbURL, "COURRIER_BENCH_SMTP_URL="+smtpURL,
			"COURRIER_BENCH_TWILIO_URL="+twilioURL)
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		return func() (time.Duration, error) {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			err := cmd.Wait()
			cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			if err != nil {
				return cpu, fmt.Errorf("bench worker: %w", err)
			}
			return cpu, nil
		}, nil
	}
}

// runBenchWorker is one extra worker process of `courrier bench
// --processes N`; bench starts it, it is not meant to be run by hand.
func runBenchWorker(ctx context.Context, env *Env, args []string) error {
	fs := env.newFlagSet("bench-worker", "A worker process started by `courrier bench --processes N`: it works the\n"+
		"benchmark's jobs on the database of COURRIER_BENCH_DATABASE_URL, delivering to the sinks of\n"+
		"COURRIER_BENCH_SMTP_URL and COURRIER_BENCH_TWILIO_URL, until SIGTERM. Not meant to be run by hand.")
	poolSize := fs.Int("pool", 40, "PostgreSQL connections")
	workers := fs.Int("workers", 200, "River MaxWorkers of the default queue")
	bulk := fs.Int("bulk-workers", 4, "River MaxWorkers of the bulk queue")
	cooldown := fs.Duration("fetch-cooldown", time.Millisecond, "River FetchCooldown")
	conns := fs.Int("smtp-connections", 32, "SMTP connections")
	batch := fs.Int("batch", 200, "notices per deliver_batch job")
	fanoutBatch := fs.Int("fanout-batch", 5_000, "beneficiaries per fan-out transaction")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dbURL := env.Getenv("COURRIER_BENCH_DATABASE_URL")
	if dbURL == "" {
		return fmt.Errorf("bench-worker: COURRIER_BENCH_DATABASE_URL is not set (this command is started by courrier bench --processes)")
	}
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return err
	}
	cfg.MaxConns = int32(*poolSize)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	return bench.RunWorker(ctx, pool, env.Getenv("COURRIER_BENCH_SMTP_URL"), env.Getenv("COURRIER_BENCH_TWILIO_URL"), bench.Options{
		Workers: *workers, BulkWorkers: *bulk, FetchCooldown: *cooldown, SMTPConns: *conns, BatchSize: *batch,
		FanoutBatch: *fanoutBatch, Logger: env.logger(),
	})
}

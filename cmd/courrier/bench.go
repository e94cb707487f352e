package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/compliance"
	"github.com/courrier-dev/courrier/internal/bench"
	"github.com/courrier-dev/courrier/internal/pglocal"
	"github.com/courrier-dev/courrier/migrations"
)

func runBench(ctx context.Context, env *Env, args []string) error {
	fs := env.newFlagSet("bench", "Measures courrier end to end in one process and one run, on a fresh database of\n"+
		"its own (on the embedded server, or on the server of DATABASE_URL; dropped afterwards):\n"+
		"  - import: N beneficiaries imported from a French-spreadsheet CSV file;\n"+
		"  - River baseline: N no-op jobs inserted and worked with the same client settings;\n"+
		"  - fan-out only: a general mailing's notices and deliver_batch jobs created;\n"+
		"  - end to end email: the mailing delivered to an in-process SMTP sink, ledger recorded;\n"+
		"  - end to end SMS: the same over an in-process Twilio-shaped HTTP sink;\n"+
		"  - mixed (not in the default set): the email mailing again while single acknowledgements\n"+
		"    are enqueued at --ack-rate per second; reports their enqueue→accepted p50/p99;\n"+
		"  - compliance: each report over the resulting ledger;\n"+
		"  - reports (not in the default set): a history of --history-events ledger events seeded\n"+
		"    over the beneficiaries (notices, deliveries, events, requests, projections), then\n"+
		"    every compliance report timed: median of 3 runs, and once from proj_notices alone.\n"+
		"    e.g. courrier bench --phases reports --recipients 1000000 --history-events 10000000\n"+
		"Every phase reports CPU per item (this process / the rest of the machine) and the\n"+
		"PostgreSQL WAL written per item. Prints a table and the ratios to the River baseline;\n"+
		"--json writes the same as JSON.")
	n := fs.Int("recipients", 100_000, "number of synthetic beneficiaries")
	batch := fs.Int("batch", 200, "notices per deliver_batch job")
	fanoutBatch := fs.Int("fanout-batch", 5_000, "beneficiaries per fan-out transaction")
	workers := fs.Int("workers", 200, "River MaxWorkers of the default queue (the no-op baseline's queue)")
	bulk := fs.Int("bulk-workers", 4, "River MaxWorkers of the bulk queue (campaign batches)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile of the whole run to this file (go tool pprof -sample_index=alloc_space)")
	cooldown := fs.Duration("fetch-cooldown", time.Millisecond, "River FetchCooldown")
	conns := fs.Int("smtp-connections", 32, "SMTP connections (and messages sent at once per batch); also the SMS senders")
	poolSize := fs.Int("pool", 40, "PostgreSQL connections")
	phases := fs.String("phases", "import,river,fanout,email,sms,letters,compliance,bounces", "phases to run, comma-separated: import, river, fanout, email, sms, mixed, letters, compliance, bounces, reports")
	historyEvents := fs.Int64("history-events", 0, "ledger events of the reports phase's seeded history (default 10 per beneficiary)")
	jsonOut := fs.String("json", "", "also write the report as JSON to this file")
	ackRate := fs.Int("ack-rate", 20, "single acknowledgements per second during the mixed phase")
	processes := fs.Int("processes", 1, "processes working the end-to-end phases (this one included); each extra one\nis this binary's bench-worker, on the same database, its CPU counted as courrier's")
	keep := fs.Bool("keep", false, "keep the benchmark database instead of dropping it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n <= 0 {
		return fmt.Errorf("bench: --recipients must be positive")
	}
	logger := env.logger()

	adminURL := env.Getenv("DATABASE_URL")
	if adminURL == "" {
		srv, err := pglocal.Start(ctx, &pglocal.Options{DataDir: env.get("COURRIER_DATA_DIR", pglocal.DefaultDataDir()), Logger: logger})
		if err != nil {
			return fmt.Errorf("embedded PostgreSQL: %w", err)
		}
		defer srv.Stop()
		adminURL = srv.URL("postgres")
	}
	name := fmt.Sprintf("courrier_bench_%d", time.Now().Unix())
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return fmt.Errorf("create benchmark database (needs CREATEDB): %w", err)
	}
	if !*keep {
		defer func() {
			_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		}()
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return err
	}
	u.Path = "/" + name
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		return err
	}
	cfg.MaxConns = int32(*poolSize)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := migrations.Migrate(ctx, pool); err != nil {
		return err
	}

	opts := bench.Options{
		Recipients: *n, BatchSize: *batch, FanoutBatch: *fanoutBatch, Workers: *workers, BulkWorkers: *bulk, FetchCooldown: *cooldown,
		SMTPConns: *conns, Phases: strings.Split(*phases, ","), Logger: logger, AckRate: *ackRate,
		Processes: *processes, HistoryEvents: *historyEvents, SpawnWorker: spawnBenchWorker(u.String(), *poolSize, *workers, *bulk, *cooldown, *conns, *batch, *fanoutBatch),
		Compliance: func(ctx context.Context, pool *pgxpool.Pool) (map[string]float64, error) {
			out := map[string]float64{}
			period, err := compliance.ParsePeriod(time.Now().AddDate(-1, 0, 0).Format("2006-01-02"), time.Now().Format("2006-01-02"))
			if err != nil {
				return nil, err
			}
			for _, rule := range compliance.RuleNames() {
				start := time.Now()
				if _, err := compliance.Run(ctx, pool, rule, period); err != nil {
					return nil, fmt.Errorf("%s: %w", rule, err)
				}
				out[rule] = time.Since(start).Seconds()
			}
			return out, nil
		},
	}
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		opts.Progress = os.Stderr
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := bench.Run(ctx, pool, opts)
	if err != nil {
		return err
	}
	if *memProfile != "" {
		if err := writeMemProfile(*memProfile); err != nil {
			return err
		}
	}
	if *keep {
		fmt.Fprintf(env.Stdout, "benchmark database kept: %s\n", name)
	}
	rep.Print(env.Stdout)
	if *jsonOut != "" {
		f, err := os.Create(*jsonOut)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := rep.WriteJSON(f); err != nil {
			return err
		}
	}
	return nil
}

// writeMemProfile writes the allocations made since the process started
// (sampled at runtime.MemProfileRate; pprof scales the samples up).
func writeMemProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("allocs").WriteTo(f, 0)
}

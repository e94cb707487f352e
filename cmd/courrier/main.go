// Command courrier is the multichannel notification engine of a Caf: one
// binary that serves the API and the workers, migrates the database, runs
// the demo and the benchmark, and answers auditors.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the HTTP API, the workers and the periodic jobs", runServe},
		{"migrate", "apply database migrations (or list them: migrate status)", runMigrate},
		{"demo", "run an end-to-end demonstration on the embedded database and the outbox", runDemo},
		{"import", "import beneficiaries from a CSV file (import recipients FILE.csv)", runImport},
		{"send", "enqueue one notice of any kind for one beneficiary", runSend},
		{"remind", "send a staff reminder to one beneficiary or an audience", runRemind},
		{"campaign", "create, approve, start, pause, cancel, retry and follow campaigns", runCampaign},
		{"report", "check a promise over a period (compliance report)", runReport},
		{"evidence", "export an evidence pack for a beneficiary or a rule", runEvidence},
		{"verify", "verify the ledger's Merkle tree, checkpoints and projections, or an evidence pack offline", runVerify},
		{"seal", "seal the ledger now: append recorded events to the Merkle tree and sign a checkpoint", runSeal},
		{"keys", "generate the ledger signing key or print its public key", runKeys},
		{"apikey", "create, list and revoke API keys", runAPIKey},
		{"staff", "create, list and disable web console accounts", runStaff},
		{"templates", "list, lint and preview the message templates", runTemplates},
		{"bounce", "classify bounce messages (bounce check FILE.eml)", runBounce},
		{"letters", "preview letters, run and list print batches, record print receipts and returned mail", runLetters},
		{"bench", "benchmark courrier end to end against River's own throughput", runBench},
		{"bench-worker", "(started by bench --processes) one extra worker process", runBenchWorker},
		{"config", "validate every setting and file without starting anything (config check)", runConfig},
		{"version", "print the version and build information (VCS revision, time)", runVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `courrier sends the notices a Caf promises its beneficiaries, by email, SMS
and letter, and keeps a ledger that proves every promise was kept.

Usage:
  courrier <command> [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "courrier <command> --help" for a command's flags.

Environment:
`+envHelp)
}

func main() {
	// courrier's heap is small and short-lived (rendered messages): trading
	// some memory for less garbage collection measurably speeds up mailings
	// (see docs/performance.md). GOGC still wins when set.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	if err := Main(ctx, env, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "courrier:", err)
		}
		stop()
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(1)
	}
}

// Main runs the command named by args[0].
func Main(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.Stdout)
		if len(args) == 0 {
			return errors.New("a command is required")
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, env, args[1:])
		}
	}
	usage(env.Stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/internal/pglocal"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/migrations"
)

const envHelp = `  DATABASE_URL          PostgreSQL to use; unset: a private server started from the
                        machine's PostgreSQL binaries (the embedded default)
  DATABASE_OWNER_URL    the same database as the role that owns the schema: migrations run
                        as it, serving as DATABASE_URL's role (see README, "Database roles")
  COURRIER_LEDGER_KEY, COURRIER_LEDGER_KEY_FILE
                        Ed25519 key signing ledger checkpoints (courrier keys generate); the
                        embedded default keeps one beside its data directory
  COURRIER_LEDGER_PUBLIC_KEY  public key ` + "`courrier verify`" + ` checks with when no signing key is set
  COURRIER_TSA_URL      RFC 3161 timestamp authority countersigning each checkpoint (optional)
  COURRIER_TSA_CERT     PEM certificate(s) of that authority: courrier verify checks the tokens
  COURRIER_ACCEPT_EVIDENCE  evidence levels reports count as delivery besides the proven ones
                        (e.g. smtp_accepted; "all" for every level; outbox_file only in a demo)
  COURRIER_DATA_DIR     data directory of the embedded server
                        (default ~/.local/share/courrier/postgres; as root /var/lib/courrier/postgres)
  COURRIER_OUTBOX       directory of the outbox channel (default ./outbox)
  COURRIER_LOG_FORMAT   text or json (default text on a terminal, json otherwise)
  COURRIER_LOG_LEVEL    debug, info, warn, error (default info)
  COURRIER_HTTP_ADDR    address of the HTTP server (default 127.0.0.1:8080)
  COURRIER_HTTP_MAX_CONNS, COURRIER_HTTP_MAX_BODIES
                        open connections and request bodies read at once (1024, 64)
  COURRIER_PUBLIC_URL   public base URL (unsubscribe links, Twilio callbacks)
  COURRIER_ROUTES       per-kind channel routes, e.g. "reminder_generic=sms,email;no_rights=letter"
  COURRIER_WORKERS      River workers in this process (default 100)
  COURRIER_FETCH_COOLDOWN  River fetch cooldown (default 20ms)
  SMTP_URL              smtp://user:pass@host:587 (STARTTLS), smtps://…:465; unset: outbox
  SMTP_FROM, SMTP_REPLY_TO, SMTP_CONNECTIONS (default 4)
  TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM
                        Twilio SMS; unset: outbox
  TWILIO_API_URL        Twilio REST API base URL (default https://api.twilio.com; a regional edge or a test double)
  COURRIER_SMS_QUIET_HOURS  "off" lifts the SMS quiet hours (08:00–20:00 Mon–Sat): test platforms only
  COURRIER_EMAIL_RATE, COURRIER_SMS_RATE
                        messages per second per process (unset: no limit)
  COURRIER_UNSUBSCRIBE_SECRET
                        HMAC key of the one-click unsubscribe links of general mailings and
                        outreach (with COURRIER_PUBLIC_URL, which must be https)
  COURRIER_STUCK_AFTER  a delivery without final receipt after this long becomes unknown (72h)
  COURRIER_RETENTION    rendered bodies and addresses are purged after this (17520h = 24 months)
  COURRIER_CALENDAR     campaign calendar file (default: the embedded example)
  COURRIER_AGENCIES     agency file: the Cafs, their territories, senders, mediator, hours (default: the embedded two-Caf example)
  COURRIER_APPROVAL_THRESHOLD  reminders to larger audiences need a second operator (1000)
  COURRIER_FANOUT_BATCH, COURRIER_FANOUT_JOB_SIZE  fan-out transaction and deliver_batch sizes (5000, 250)
  COURRIER_TEMPLATES    template override directory
  COURRIER_WORKING_DAYS, COURRIER_ACK_DAYS, COURRIER_ANSWER_DAYS, COURRIER_MINIMUM_INCOME_DAYS,
  COURRIER_COMPLAINT_DAYS, COURRIER_WATCHDOG_MARGIN  request deadlines (calendar days, 5, 15, 10, 15, 48h)
  COURRIER_LETTER       "outbox" to write letters to the outbox when providers are configured
  COURRIER_METRICS_ADDR  Prometheus /metrics without authentication on this address (off; /metrics
                        on the API port needs an admin key); COURRIER_METRICS_INTERVAL (15s)
  OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_*  OpenTelemetry traces over OTLP/HTTP (off unless set)
`

// Env is what a command gets from its surroundings; tests supply their own.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Pool, when set, is used instead of opening a database (tests).
	Pool *pgxpool.Pool
	// Logger, when set, replaces the one built from the environment.
	Logger *slog.Logger
	// key is the ledger signing key, loaded once (see ledgerKey).
	key *ledger.Key
	// embedded is the private PostgreSQL that openDB started, if any.
	embedded *pglocal.Server
	// httpTimeouts, when set, replaces the HTTP server's timeouts (tests).
	httpTimeouts *httpTimeouts
}

func (e *Env) get(key, def string) string {
	if v := e.Getenv(key); v != "" {
		return v
	}
	return def
}

func (e *Env) duration(key string, def time.Duration) (time.Duration, error) {
	v := e.Getenv(key)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration (e.g. 20ms, 3s): %w", key, v, err)
	}
	return d, nil
}

func (e *Env) int(key string, def int) (int, error) {
	v := e.Getenv(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: %q is not a non-negative whole number", key, v)
	}
	return n, nil
}

func (e *Env) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	level := slog.LevelInfo
	switch strings.ToLower(e.Getenv("COURRIER_LOG_LEVEL")) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	format := e.Getenv("COURRIER_LOG_FORMAT")
	if format == "" {
		format = "json"
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			format = "text"
		}
	}
	if format == "json" {
		e.Logger = slog.New(slog.NewJSONHandler(e.Stderr, opts))
	} else {
		e.Logger = slog.New(slog.NewTextHandler(e.Stderr, opts))
	}
	// Packages that log through slog.Default write in the same format.
	slog.SetDefault(e.Logger)
	return e.Logger
}

// newFlagSet returns a flag set whose --help prints summary, flags and the
// environment variables.
// subcommandFlags starts a command made of subcommands (courrier letters
// preview …). With no arguments or a help request it prints usage and
// returns no flag set, with an error naming the subcommands (subs) when none
// was given; otherwise the subcommand, its arguments and a flag set named
// after both.
func (e *Env) subcommandFlags(cmd, usage, subs string, args []string) (sub string, rest []string, fs *flag.FlagSet, err error) {
	if len(args) == 0 || wantsHelp(args[:1]) {
		fmt.Fprint(e.Stderr, usage)
		if len(args) == 0 {
			return "", nil, nil, fmt.Errorf("%s: a subcommand is required%s", cmd, subs)
		}
		return "", nil, nil, nil
	}
	return args[0], args[1:], e.newFlagSet(cmd+" "+args[0], fmt.Sprintf("See \"courrier %s --help\".", cmd)), nil
}

func (e *Env) newFlagSet(name, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.Stderr, "Usage: courrier %s\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
		fmt.Fprint(e.Stderr, "\nEnvironment:\n"+envHelp)
	}
	return fs
}

// openDB connects to DATABASE_URL, or starts the embedded server and opens
// its "courrier" database. migrate applies migrations first.
func (e *Env) openDB(ctx context.Context, migrate bool) (pool *pgxpool.Pool, closeFn func(), err error) {
	if e.Pool != nil {
		if migrate {
			if _, err := migrations.Migrate(ctx, e.Pool); err != nil {
				return nil, nil, err
			}
		}
		return e.Pool, func() {}, nil
	}
	logger := e.logger()
	url := e.Getenv("DATABASE_URL")
	if owner := e.Getenv("DATABASE_OWNER_URL"); owner != "" && url != "" {
		url = owner // migrations run as the owner; appPool connects as DATABASE_URL's role
	}
	var srv *pglocal.Server
	if url == "" {
		dataDir := e.get("COURRIER_DATA_DIR", pglocal.DefaultDataDir())
		srv, err = pglocal.Start(ctx, &pglocal.Options{DataDir: dataDir, Logger: logger})
		if err != nil {
			return nil, nil, fmt.Errorf("embedded PostgreSQL: %w", err)
		}
		if err := ensureDatabase(ctx, srv.URL("postgres"), "courrier"); err != nil {
			_ = srv.Stop()
			return nil, nil, err
		}
		url = srv.URL("courrier")
		e.embedded = srv
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		_ = srv.Stop()
		return nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if cfg.MaxConns < 40 {
		cfg.MaxConns = 40
	}
	e.tracePgx(cfg.ConnConfig)
	pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		_ = srv.Stop()
		return nil, nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	closeFn = func() {
		pool.Close()
		if srv != nil {
			if err := srv.Stop(); err != nil {
				logger.Warn("stop embedded PostgreSQL", "error", err)
			}
		}
	}
	if migrate {
		res, err := migrations.Migrate(ctx, pool)
		if err != nil {
			closeFn()
			return nil, nil, err
		}
		for _, m := range res.Applied {
			logger.Info("migration applied", "version", m.Version, "name", m.Name)
		}
	}
	// Serve with least privilege: the pool so far is the owner's.
	appPool, err := e.appPool(ctx, pool, srv != nil)
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	if appPool != pool {
		ownerClose := closeFn
		closeFn = func() {
			appPool.Close()
			ownerClose()
		}
	}
	return appPool, closeFn, nil
}

func ensureDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

func (e *Env) outboxDir() string {
	dir := e.get("COURRIER_OUTBOX", "outbox")
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

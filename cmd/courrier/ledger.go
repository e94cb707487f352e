package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/compliance"
	"github.com/courrier-dev/courrier/internal/pglocal"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/ledger/rfc3161"
	"github.com/courrier-dev/courrier/migrations"
)

// appPool returns the pool serving runs on, given the owner's pool (which
// ran the migrations). Embedded: the app role is created and connected as.
// External with DATABASE_OWNER_URL: DATABASE_URL's role is granted what
// serving needs and connected as. Otherwise the one role does both, with a
// warning. Tests (Env.Pool) keep their pool.
func (e *Env) appPool(ctx context.Context, owner *pgxpool.Pool, embedded bool) (*pgxpool.Pool, error) {
	if e.Pool != nil {
		return owner, nil
	}
	var cfg *pgxpool.Config
	switch {
	case embedded:
		if err := migrations.GrantApp(ctx, owner, migrations.AppRole, true); err != nil {
			return nil, err
		}
		cfg = owner.Config().Copy()
		cfg.ConnConfig.User = migrations.AppRole
		cfg.ConnConfig.Password = ""
	case e.Getenv("DATABASE_OWNER_URL") != "":
		var err error
		if cfg, err = pgxpool.ParseConfig(e.Getenv("DATABASE_URL")); err != nil {
			return nil, fmt.Errorf("DATABASE_URL: %w", err)
		}
		if err := migrations.GrantApp(ctx, owner, cfg.ConnConfig.User, false); err != nil {
			return nil, err
		}
		if cfg.MaxConns < 40 {
			cfg.MaxConns = 40
		}
	default:
		e.logger().Warn("DATABASE_URL's role owns the ledger tables and could disable their triggers; " +
			"set DATABASE_OWNER_URL to run migrations as the owner and serve as a role that may only INSERT and SELECT the ledger")
		return owner, nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("connect as %s: %w", cfg.ConnConfig.User, err)
	}
	return pool, nil
}

// ledgerKey loads the checkpoint signing key: COURRIER_LEDGER_KEY or
// COURRIER_LEDGER_KEY_FILE; with the embedded database and neither set, a
// key file beside the data directory (created on first use, with a
// warning); in tests (Env.Pool), a key made for the run.
func (e *Env) ledgerKey() (*ledger.Key, error) {
	if e.key != nil {
		return e.key, nil
	}
	fallback := ""
	if e.Getenv("DATABASE_URL") == "" && e.Pool == nil {
		fallback = filepath.Join(filepath.Dir(e.get("COURRIER_DATA_DIR", pglocal.DefaultDataDir())), "ledger.key")
	}
	k, created, err := ledger.LoadKey(e.Getenv, fallback)
	if errors.Is(err, ledger.ErrNoKey) && e.Pool != nil {
		priv, _, gerr := ledger.GenerateKey(ledger.DefaultKeyName)
		if gerr != nil {
			return nil, gerr
		}
		k, err = ledger.ParseKey(priv)
	}
	if err != nil {
		return nil, err
	}
	if created {
		e.logger().Warn("created a ledger signing key beside the embedded database: whoever can read it can sign checkpoints; "+
			"for production keep the key elsewhere (COURRIER_LEDGER_KEY_FILE) and give auditors its public key", "file", fallback)
	}
	e.key = k
	return k, nil
}

// ledgerVerifier is the public key verification uses: --key if given, else
// COURRIER_LEDGER_PUBLIC_KEY, else the signing key's.
func (e *Env) ledgerVerifier(flagKey string) (*ledger.Key, error) {
	pub := flagKey
	if pub == "" {
		pub = e.Getenv(ledger.PublicKeyEnv)
	}
	if pub != "" {
		pub, err := readKeyArg(pub)
		if err != nil {
			return nil, err
		}
		v, err := ledger.NewVerifier(pub)
		if err != nil {
			return nil, err
		}
		return &ledger.Key{Verifier: v, Public: pub}, nil
	}
	return e.ledgerKey()
}

// acceptEvidence reads COURRIER_ACCEPT_EVIDENCE: evidence levels counted
// as delivery on top of the proven ones.
func (e *Env) acceptEvidence() ([]string, error) {
	extra, err := compliance.ParseAccept(e.Getenv("COURRIER_ACCEPT_EVIDENCE"))
	if err != nil || extra == nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, l := range append(compliance.DefaultAccepted(), extra...) {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out, nil
}

// sealNow seals what this command recorded before it exits, so that short
// commands (demo, send, import, campaign, remind) leave nothing unproven.
// Events of transactions still open elsewhere cannot be sealed yet: it says
// so and returns.
func sealNow(ctx context.Context, e *Env, pool *pgxpool.Pool) error {
	k, err := e.ledgerKey()
	if err != nil {
		return err
	}
	tsa, err := e.timestamper()
	if err != nil {
		return err
	}
	total := 0
	for attempt := 0; ; attempt++ {
		n, err := ledger.Seal(ctx, pool, ledger.SealOptions{Key: k, TSA: tsa, Settle: time.Millisecond})
		if err != nil {
			return err
		}
		total += n
		var waiting int64
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM delivery_events
			WHERE id > coalesce((SELECT event_id FROM ledger_leaves ORDER BY idx DESC LIMIT 1), 0)`).Scan(&waiting); err != nil {
			return err
		}
		if waiting == 0 {
			if total > 0 {
				e.logger().Info("ledger sealed before exit", "events", total)
			}
			return nil
		}
		if attempt >= 20 {
			fmt.Fprintf(e.Stderr, "ledger: %d events not sealed yet (a transaction elsewhere is still open); `courrier serve` or `courrier seal` will seal them\n", waiting)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// timestamper returns the RFC 3161 client for COURRIER_TSA_URL, or nil.
func (e *Env) timestamper() (ledger.Timestamper, error) {
	if u := e.Getenv("COURRIER_TSA_URL"); u != "" {
		return &rfc3161.Client{URL: u}, nil
	}
	return nil, nil
}

// tsaVerifier reads the timestamp authority's certificate(s) (PEM) from
// file, or from COURRIER_TSA_CERT when file is "". It returns nil when
// neither is set.
func (e *Env) tsaVerifier(file string) (*rfc3161.Verifier, error) {
	if file == "" {
		file = e.Getenv("COURRIER_TSA_CERT")
	}
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("timestamp authority certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("timestamp authority certificate %s: no PEM certificate", file)
	}
	return &rfc3161.Verifier{Roots: pool}, nil
}

// readKeyArg accepts a public key as text or as the name of a file
// holding it.
func readKeyArg(s string) (string, error) {
	if _, err := ledger.NewVerifier(s); err == nil {
		return s, nil
	}
	b, err := os.ReadFile(s)
	if err != nil {
		return "", fmt.Errorf("public key: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// ledgerConfig is what serve needs of the ledger settings.
func (e *Env) ledgerConfig() (*ledger.Key, ledger.Timestamper, []string, error) {
	k, err := e.ledgerKey()
	if err != nil {
		return nil, nil, nil, err
	}
	tsa, err := e.timestamper()
	if err != nil {
		return nil, nil, nil, err
	}
	accept, err := e.acceptEvidence()
	return k, tsa, accept, err
}

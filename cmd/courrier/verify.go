package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/compliance"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/ledger/rfc3161"
)

// errLedgerBroken makes `courrier verify` exit non-zero when verification
// fails.
var errLedgerBroken = errors.New("ledger does not verify")

// repeated collects a repeatable flag.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(s string) error { *r = append(*r, s); return nil }

func splitLines(s string) []string { return strings.Split(s, "\n") }

// runVerify runs `courrier verify [--key PUB] [--witness FILE]…` over the
// database, or `courrier verify --pack FILE --key PUB` offline.
func runVerify(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(env.Stdout)
	packFile := fs.String("pack", "", "verify this evidence pack (JSON) offline instead of the database")
	key := fs.String("key", "", "the ledger's public key (text or file); default COURRIER_LEDGER_PUBLIC_KEY, else the signing key's")
	var witnesses repeated
	fs.Var(&witnesses, "witness", "a checkpoint saved earlier (signed note file): the ledger must still extend it (repeatable)")
	tsaCert := fs.String("tsa-cert", "", "PEM certificate(s) of the timestamp authority: check each checkpoint's RFC 3161 token (default COURRIER_TSA_CERT)")
	save := fs.String("save-checkpoint", "", "after a successful verification, write the latest signed checkpoint to this file (a witness for next time)")
	fs.Usage = func() {
		fmt.Fprintf(env.Stdout, `usage: courrier verify [--key PUBLIC_KEY] [--witness FILE]... [--save-checkpoint FILE]
       courrier verify --pack FILE --key PUBLIC_KEY [--tsa-cert TSA.pem]

Without --pack: recomputes the Merkle tree from every sealed event, checks each
checkpoint's signature and root, each witness, the report projections row by
row, and the notices and deliveries tables against the sealed facts; names
every difference. With --pack: checks an evidence pack offline, with the
public key only.

flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *packFile != "" {
		if *key == "" && env.Getenv(ledger.PublicKeyEnv) == "" {
			return fmt.Errorf("%w: --pack needs --key (the ledger's public key, obtained independently of the pack)", compliance.ErrInvalid)
		}
		k, err := env.ledgerVerifier(*key)
		if err != nil {
			return err
		}
		tsa, err := env.tsaVerifier(*tsaCert)
		if err != nil {
			return err
		}
		return verifyPack(env, *packFile, k, tsa)
	}
	k, err := env.ledgerVerifier(*key)
	if err != nil {
		return err
	}
	tsa, err := env.tsaVerifier(*tsaCert)
	if err != nil {
		return err
	}
	var notes []string
	for _, w := range witnesses {
		b, err := os.ReadFile(w)
		if err != nil {
			return fmt.Errorf("witness: %w", err)
		}
		notes = append(notes, string(b))
	}
	return withDB(ctx, env, nil, func(pool *pgxpool.Pool) error {
		start := time.Now()
		opts := ledger.VerifyOptions{Verifier: k.Verifier, Witnesses: notes}
		if tsa != nil {
			opts.TSA = tsa
		}
		res, err := ledger.Verify(ctx, pool, opts)
		if err != nil {
			return err
		}
		if !res.OK {
			fmt.Fprintf(env.Stdout, "FAIL %d problems (after %d events, %d checkpoints):\n", len(res.Breaks), res.Events, res.Checkpoints)
			for _, b := range res.Breaks {
				fmt.Fprintf(env.Stdout, "  %s\n", b)
			}
			return fmt.Errorf("%w: %s", errLedgerBroken, res.Breaks[0])
		}
		fmt.Fprintf(env.Stdout, "OK %d events in a Merkle tree of size %d, root %s; %d signed checkpoints (%d timestamps checked), %d witnesses; projections match for %d notices, %d requests and %d coverage rows (%s)\n",
			res.Events, res.TreeSize, res.RootHash, res.Checkpoints, res.Timestamps, res.Witnesses, res.Notices, res.Requests, res.Coverage, time.Since(start).Round(time.Millisecond))
		if res.Unsealed > 0 {
			fmt.Fprintf(env.Stdout, "NOT SEALED %d events recorded after the last seal: they prove nothing until sealed (courrier seal, or serve seals every minute)\n", res.Unsealed)
		}
		if res.Checkpoint != nil {
			fmt.Fprintf(env.Stdout, "latest checkpoint (public key %s):\n%s", k.Public, res.Checkpoint.Note)
			if *save != "" {
				if err := os.WriteFile(*save, []byte(res.Checkpoint.Note), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "saved to %s\n", *save)
			}
		}
		return nil
	})
}

func verifyPack(env *Env, file string, k *ledger.Key, tsa *rfc3161.Verifier) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	pack, err := compliance.ReadPack(f)
	if err != nil {
		return err
	}
	opts := &compliance.VerifyPackOptions{}
	if tsa != nil {
		opts.TSA = tsa
	}
	check, err := compliance.VerifyPack(pack, k.Verifier, opts)
	if err != nil {
		fmt.Fprintf(env.Stdout, "FAIL %s\n", err)
		return err
	}
	fmt.Fprintf(env.Stdout, "OK pack %s: %d notices, %d events included in the signed tree of size %d (root %s), manifest signed and complete; %d contents match their sealed hashes, %d not kept (%s)\n",
		file, check.Notices, check.EventsVerified, check.TreeSize, check.RootHash, check.ContentVerified, check.ContentPurged, time.Since(start).Round(time.Millisecond))
	if check.Unsealed > 0 {
		fmt.Fprintf(env.Stdout, "note: %d events of these notices were recorded after the checkpoint and are not in the pack\n", check.Unsealed)
	}
	switch {
	case !check.TimestampedAt.IsZero():
		fmt.Fprintf(env.Stdout, "checkpoint timestamped by the TSA at %s\n", check.TimestampedAt.UTC().Format(time.RFC3339))
	case pack.Checkpoint.TSAToken != nil:
		fmt.Fprintln(env.Stdout, "note: the checkpoint has an RFC 3161 timestamp token; give --tsa-cert to check it")
	}
	return nil
}

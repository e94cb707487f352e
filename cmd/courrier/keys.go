package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/courrier-dev/courrier/ledger"
)

// runKeys runs `courrier keys generate [--name N] --out FILE` and
// `courrier keys public`.
func runKeys(ctx context.Context, env *Env, args []string) error {
	usage := func() {
		fmt.Fprintf(env.Stdout, `usage: courrier keys generate [--name NAME] --out FILE
       courrier keys public

generate writes a new Ed25519 signing key for ledger checkpoints to FILE (mode 0600) and
prints its public key; point COURRIER_LEDGER_KEY_FILE at FILE (or put its content in
COURRIER_LEDGER_KEY) and give the public key to auditors. public prints the public key
of the configured signing key.
`)
	}
	if len(args) == 0 || wantsHelp(args) {
		usage()
		if len(args) == 0 {
			return errors.New("keys: generate or public")
		}
		return nil
	}
	switch args[0] {
	case "generate":
		fs := flag.NewFlagSet("keys generate", flag.ContinueOnError)
		fs.SetOutput(env.Stdout)
		name := fs.String("name", ledger.DefaultKeyName, "key name, the checkpoints' origin line")
		out := fs.String("out", "", "file to write the signing key to (must not exist)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *out == "" {
			return errors.New("keys generate: --out FILE is required (the signing key is never printed)")
		}
		priv, pub, err := ledger.GenerateKey(*name)
		if err != nil {
			return err
		}
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("keys generate: %w", err)
		}
		if _, err := f.WriteString(priv + "\n"); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "signing key written to %s\npublic key: %s\n", *out, pub)
		return nil
	case "public":
		k, err := env.ledgerKey()
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, k.Public)
		return nil
	}
	usage()
	return fmt.Errorf("keys: unknown subcommand %q", args[0])
}

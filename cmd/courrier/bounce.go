package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/courrier-dev/courrier/channels/bounce"
)

// runBounce runs `courrier bounce check FILE.eml…`: it parses each message
// as the bounce intakes would and prints its classification, without
// touching the database.
func runBounce(ctx context.Context, env *Env, args []string) error {
	fs := env.newFlagSet("bounce check FILE.eml…", "Parses bounce messages (RFC 3464 DSN, RFC 6533, RFC 5965 ARF or a non-standard\n"+
		"bounce) and prints what courrier would make of each: type, format, class (hard or\n"+
		"soft), and per failed recipient the status, code and the rule that classified it.\n"+
		"With COURRIER_BOUNCE_SECRET and COURRIER_BOUNCE_DOMAIN set, it also says which\n"+
		"delivery the VERP return path names, or that it is forged.")
	if len(args) == 0 || args[0] != "check" {
		fs.Usage()
		return errors.New("usage: courrier bounce check FILE.eml…")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: courrier bounce check FILE.eml…")
	}
	settings, err := env.bounceSettings()
	if err != nil {
		return err
	}
	for _, name := range fs.Args() {
		raw, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		r, err := bounce.Parse(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(env.Stdout, "%s: %s\n", name, r.Summary())
		if settings == nil || settings.verp == nil {
			continue
		}
		for _, rp := range r.ReturnPaths {
			switch id, err := settings.verp.Parse(rp); {
			case err == nil:
				fmt.Fprintf(env.Stdout, "  return path names delivery %d\n", id)
			case errors.Is(err, bounce.ErrForged):
				fmt.Fprintln(env.Stdout, "  return path is forged (tag does not verify)")
			}
		}
	}
	return nil
}

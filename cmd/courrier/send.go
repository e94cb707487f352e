package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/templates"
)

func runSend(ctx context.Context, env *Env, args []string) error {
	fs := env.newFlagSet("send --recipient REF --kind KIND --data FILE.json --key KEY [--operator NAME]",
		"Enqueues one notice of any kind for one beneficiary; `courrier serve` delivers it.\n"+
			"The data must hold the fields that the kind's templates declare (see \"courrier templates list\");\n"+
			"it is checked by rendering every channel of the kind's route before anything is written.\n"+
			"The key makes the command idempotent: sending again with the same key creates nothing.")
	ref := fs.String("recipient", "", "beneficiary number")
	kind := fs.String("kind", "", "notice kind, e.g. rights_changed (see \"courrier templates list\")")
	dataFile := fs.String("data", "", "notice data as a JSON object (a file, or - for stdin)")
	key := fs.String("key", "", "idempotency key (required), e.g. the upstream event id")
	operator := fs.String("operator", env.Getenv("COURRIER_OPERATOR"), "who asks for it (recorded with the notice)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	data := map[string]any{}
	if *dataFile != "" {
		var raw []byte
		var err error
		if *dataFile == "-" {
			raw, err = io.ReadAll(os.Stdin)
		} else {
			raw, err = os.ReadFile(*dataFile)
		}
		if err != nil {
			return fmt.Errorf("send: --data: %w", err)
		}
		if err := json.Unmarshal(raw, &data); err != nil {
			return fmt.Errorf("send: --data %s is not a JSON object: %w", *dataFile, err)
		}
	}
	n := jobs.OneNotice{RecipientRef: *ref, Kind: notices.Kind(*kind), Data: data, Key: *key, Operator: *operator}
	var missing []string
	for name, v := range map[string]string{"--recipient": *ref, "--kind": *kind, "--key": *key, "--operator": *operator} {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("send: %s required (see courrier send --help)", strings.Join(missing, ", "))
	}
	if !n.Kind.Valid() {
		return fmt.Errorf("send: --kind %q is not a notice kind", *kind)
	}
	tpl, err := templates.Load(&templates.Options{OverrideDir: env.Getenv("COURRIER_TEMPLATES")})
	if err != nil {
		return err
	}
	routes, err := channels.ParseRoutes(env.Getenv("COURRIER_ROUTES"))
	if err != nil {
		return fmt.Errorf("COURRIER_ROUTES: %w", err)
	}
	pool, closeDB, err := env.openDB(ctx, true)
	if err != nil {
		return err
	}
	defer closeDB()
	client, err := jobs.NewInsertClient(pool, env.logger())
	if err != nil {
		return err
	}
	id, created, err := jobs.SendNotice(ctx, pool, client, tpl, routes, n)
	switch {
	case errors.Is(err, jobs.ErrNoSuchRecipient):
		return fmt.Errorf("send: --recipient %q: no such beneficiary", *ref)
	case err != nil && strings.HasPrefix(err.Error(), "data: "):
		return fmt.Errorf("send: --%w", err)
	case err != nil:
		return fmt.Errorf("send: %w", err)
	}
	k := n.Kind
	if created {
		fmt.Fprintf(env.Stdout, "notice %d enqueued (%s for beneficiary %s)\n", id, k, *ref)
	} else {
		fmt.Fprintf(env.Stdout, "notice %d already exists for key %q: nothing new\n", id, *key)
	}
	return sealNow(ctx, env, pool)
}

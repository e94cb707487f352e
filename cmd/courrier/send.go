package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
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
	var missing []string
	for name, v := range map[string]string{"--recipient": *ref, "--kind": *kind, "--key": *key, "--operator": *operator} {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("send: %s required (see courrier send --help)", strings.Join(missing, ", "))
	}
	k := notices.Kind(*kind)
	if !k.Valid() {
		return fmt.Errorf("send: --kind %q is not a notice kind", *kind)
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
	r, err := recipients.GetByRef(ctx, pool, *ref)
	if errors.Is(err, recipients.ErrNotFound) {
		return fmt.Errorf("send: --recipient %q: no such beneficiary", *ref)
	} else if err != nil {
		return err
	}
	// Nothing half-valid is enqueued: every channel the notice may take must render.
	in := templates.Input{Recipient: templates.Recipient{Ref: r.Ref, Civility: r.Civility, GivenName: r.GivenName, FamilyName: r.FamilyName}, Data: data}
	for _, ch := range routes.For(string(k)) {
		if !tpl.Has(string(k), string(ch)) {
			continue
		}
		if _, err := tpl.Render(string(k), string(ch), in); err != nil {
			return fmt.Errorf("send: --data: %w", err)
		}
	}
	client, err := jobs.NewInsertClient(pool, env.logger())
	if err != nil {
		return err
	}
	var id int64
	var created bool
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		id, created, err = jobs.EnqueueNotice(ctx, tx, client, notices.New{
			RecipientID: r.ID, Kind: k, Data: data, IdempotencyKey: "cli:" + *key, CreatedBy: "cli/" + *operator,
		}, nil)
		return err
	})
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(env.Stdout, "notice %d enqueued (%s for beneficiary %s)\n", id, k, r.Ref)
	} else {
		fmt.Fprintf(env.Stdout, "notice %d already exists for key %q: nothing new\n", id, *key)
	}
	return sealNow(ctx, env, pool)
}

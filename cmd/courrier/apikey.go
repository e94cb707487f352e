package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/jobs"
)

const apikeyUsage = `Usage:
  courrier apikey create --name NAME --scope SCOPE[,SCOPE] [--operator NAME] [--test]
  courrier apikey list
  courrier apikey revoke ID
  courrier apikey callback set ID --url URL     register the key's status callback (prints its secret once)
  courrier apikey callback show ID              the key's callback (never its secret)
  courrier apikey callback remove ID            stop sending callbacks for the key
  courrier apikey callback failures [--key ID]  callbacks that could not be delivered

Scopes:
  ingest  upstream systems: beneficiaries, rights and life events, requests
  staff   agency staff: answers, reminders, campaigns (needs --operator)
  admin   keys, configuration, River UI
  audit   read-only: beneficiaries, notices, requests, reports

A test key (--test) works like any other, but every notice it creates goes
to the outbox only, never to a real email, phone or letter.

The secret is printed once by create; only its hash is stored.

A key's status callback receives a signed JSON POST for every final status of
the notices and requests the key created (see "Status callbacks" in the
README for the payload and how to verify the signature).
`

func runAPIKey(ctx context.Context, env *Env, args []string) error {
	w := env.Stdout
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		_, err := io.WriteString(w, apikeyUsage)
		if len(args) == 0 {
			return errors.New("apikey: a subcommand is required: create, list, revoke or callback")
		}
		return err
	}
	if wantsHelp(args) {
		_, err := io.WriteString(w, apikeyUsage)
		return err
	}
	return withDB(ctx, env, args, func(pool *pgxpool.Pool) error {
		return apikeyCommand(ctx, pool, w, args)
	})
}

func apikeyCommand(ctx context.Context, db *pgxpool.Pool, w io.Writer, args []string) error {
	switch args[0] {
	case "create":
		fs := flag.NewFlagSet("apikey create", flag.ContinueOnError)
		fs.SetOutput(w)
		fs.Usage = func() { _, _ = io.WriteString(w, apikeyUsage) }
		name := fs.String("name", "", "what the key is for, e.g. \"cristal-prod\"")
		scope := fs.String("scope", "", "comma-separated scopes: ingest, staff, admin, audit")
		operator := fs.String("operator", "", "staff person the key belongs to (required with staff)")
		test := fs.Bool("test", false, "test key: notices go to the outbox only")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("apikey create: unexpected argument %q", fs.Arg(0))
		}
		var scopes []string
		for _, s := range strings.Split(*scope, ",") {
			if s = strings.TrimSpace(s); s != "" {
				scopes = append(scopes, s)
			}
		}
		secret, k, err := jobs.CreateAPIKey(ctx, db, jobs.NewAPIKey{Name: *name, Operator: *operator, Scopes: scopes, Test: *test})
		if err != nil {
			return fmt.Errorf("apikey create: %w", err)
		}
		kind := "live"
		if k.Test {
			kind = "test (outbox only)"
		}
		_, err = fmt.Fprintf(w, "Created API key %d %q, %s, scopes %s.\n\n    %s\n\nStore it now: it is shown only once.\nUse it as: Authorization: Bearer %s\n",
			k.ID, k.Name, kind, strings.Join(k.Scopes, ","), secret, secret[:jobs.APIKeyShownPrefix]+"…")
		return err
	case "list":
		if len(args) > 1 {
			return fmt.Errorf("apikey list: unexpected argument %q", args[1])
		}
		keys, err := jobs.ListAPIKeys(ctx, db)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tOPERATOR\tSCOPES\tTEST\tPREFIX\tCREATED\tLAST USED\tREVOKED")
		for _, k := range keys {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%v\t%s…\t%s\t%s\t%s\n", k.ID, k.Name, dash(k.Operator), strings.Join(k.Scopes, ","),
				k.Test, k.Prefix, k.CreatedAt.Format(time.DateTime), when(k.LastUsedAt), when(k.RevokedAt))
		}
		return tw.Flush()
	case "revoke":
		if len(args) != 2 {
			return errors.New("apikey revoke: give the key's ID (see apikey list)")
		}
		id, err := keyID(args[1])
		if err != nil {
			return fmt.Errorf("apikey revoke: %w", err)
		}
		if err := jobs.RevokeAPIKey(ctx, db, id); err != nil {
			return fmt.Errorf("apikey revoke: %w", err)
		}
		_, err = fmt.Fprintf(w, "Revoked API key %d.\n", id)
		return err
	case "callback":
		return callbackCommand(ctx, db, w, args[1:])
	}
	_, _ = io.WriteString(w, apikeyUsage)
	return fmt.Errorf("apikey: unknown subcommand %q", args[0])
}

func keyID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%q is not a key ID (see apikey list)", s)
	}
	return id, nil
}

func callbackCommand(ctx context.Context, db *pgxpool.Pool, w io.Writer, args []string) error {
	if len(args) == 0 {
		return errors.New("apikey callback: set, show, remove or failures")
	}
	fs := flag.NewFlagSet("apikey callback "+args[0], flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() { _, _ = io.WriteString(w, apikeyUsage) }
	url := fs.String("url", "", "set: the HTTPS URL that receives the callbacks")
	key := fs.Int64("key", 0, "failures: only this key's")
	limit := fs.Int("limit", 50, "failures: how many to list, latest first")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	oneKey := func() (int64, error) {
		if len(pos) != 1 {
			return 0, fmt.Errorf("apikey callback %s: give the key's ID", args[0])
		}
		return keyID(pos[0])
	}
	switch args[0] {
	case "set":
		id, err := oneKey()
		if err != nil {
			return err
		}
		secret, cb, err := jobs.SetCallback(ctx, db, id, *url)
		if err != nil {
			return fmt.Errorf("apikey callback set: %w", err)
		}
		_, err = fmt.Fprintf(w, "Status callbacks of API key %d go to %s.\nSigning secret (shown only once; store it with the receiver):\n\n    %s\n\n"+
			"Each POST carries %s: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">.\n", cb.KeyID, cb.URL, secret, jobs.CallbackSignatureHeader)
		return err
	case "show":
		id, err := oneKey()
		if err != nil {
			return err
		}
		cb, err := jobs.GetCallback(ctx, db, id)
		if err != nil {
			return fmt.Errorf("apikey callback show: %w", err)
		}
		_, err = fmt.Fprintf(w, "key %d  %s  registered %s  secret %s…\n", cb.KeyID, cb.URL, cb.CreatedAt.Format(time.DateTime), cb.SecretPrefix)
		return err
	case "remove":
		id, err := oneKey()
		if err != nil {
			return err
		}
		if err := jobs.RemoveCallback(ctx, db, id); err != nil {
			return fmt.Errorf("apikey callback remove: %w", err)
		}
		_, err = fmt.Fprintf(w, "Status callbacks of API key %d removed.\n", id)
		return err
	case "failures":
		list, err := jobs.ListFailedCallbacks(ctx, db, jobs.CallbackFilter{KeyID: *key, Limit: *limit})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EVENT\tKEY\tTYPE\tNOTICE\tREQUEST\tATTEMPTS\tLAST ATTEMPT\tSTATE\tLAST ERROR")
		for _, e := range list {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", e.EventID, e.KeyID, e.Type, idOrDash(e.NoticeID), idOrDash(e.RequestID),
				e.Attempts, when(e.LastAttemptAt), e.State, e.LastError)
		}
		return tw.Flush()
	}
	return fmt.Errorf("apikey callback: unknown subcommand %q (set, show, remove or failures)", args[0])
}

func idOrDash(id int64) string {
	if id == 0 {
		return "-"
	}
	return strconv.FormatInt(id, 10)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.DateTime)
}

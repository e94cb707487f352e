package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Secret prefixes: a test key is recognisable at a glance.
const (
	LivePrefix = "ck_live_"
	TestPrefix = "ck_test_"
)

// shownPrefix is how many characters of a secret lists show.
const shownPrefix = 12

// ErrKeyNotFound is returned by RevokeKey for an unknown id.
var ErrKeyNotFound = errors.New("API key not found")

var secretEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// CreateKey creates an API key and returns its secret, which is stored only
// hashed and cannot be shown again. A key with the staff scope must name its
// operator (the person whose actions it records).
func CreateKey(ctx context.Context, db *pgxpool.Pool, name, operator string, scopes []string, test bool) (secret string, key Key, err error) {
	name, operator = strings.TrimSpace(name), strings.TrimSpace(operator)
	switch {
	case name == "":
		return "", Key{}, errors.New("a key needs a name (--name)")
	case len(name) > 100 || len(operator) > 100:
		return "", Key{}, errors.New("name and operator are at most 100 characters")
	case len(scopes) == 0:
		return "", Key{}, fmt.Errorf("a key needs at least one scope (--scope) among %s", strings.Join(Scopes, ", "))
	case strings.ContainsAny(operator, "\n\r"):
		return "", Key{}, errors.New("the operator name must be on one line")
	}
	var clean []string
	for _, s := range scopes {
		s = strings.TrimSpace(s)
		if !slices.Contains(Scopes, s) {
			return "", Key{}, fmt.Errorf("unknown scope %q: scopes are %s", s, strings.Join(Scopes, ", "))
		}
		if !slices.Contains(clean, s) {
			clean = append(clean, s)
		}
	}
	if slices.Contains(clean, ScopeStaff) && operator == "" {
		return "", Key{}, errors.New("a staff key belongs to a person: give --operator NAME")
	}
	raw := make([]byte, 20)
	if _, err := rand.Read(raw); err != nil {
		return "", Key{}, err
	}
	secret = LivePrefix
	if test {
		secret = TestPrefix
	}
	secret += strings.ToLower(secretEncoding.EncodeToString(raw))
	key = Key{Name: name, Operator: operator, Scopes: clean, Test: test}
	err = db.QueryRow(ctx, `
		INSERT INTO api_keys (name, operator, scopes, test, hash, prefix)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		name, operator, clean, test, hashSecret(secret), secret[:shownPrefix]).Scan(&key.ID)
	if err != nil {
		return "", Key{}, fmt.Errorf("create API key: %w", err)
	}
	return secret, key, nil
}

// KeyRecord is an API key as listed: never its secret.
type KeyRecord struct {
	Key
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// ListKeys lists every API key, revoked ones included, oldest first.
func ListKeys(ctx context.Context, db *pgxpool.Pool) ([]KeyRecord, error) {
	rows, err := db.Query(ctx, `
		SELECT id, name, operator, scopes, test, prefix, created_at, revoked_at, last_used_at
		FROM api_keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (KeyRecord, error) {
		var k KeyRecord
		err := row.Scan(&k.ID, &k.Name, &k.Operator, &k.Scopes, &k.Test, &k.Prefix, &k.CreatedAt, &k.RevokedAt, &k.LastUsedAt)
		return k, err
	})
}

// RevokeKey revokes key id at once: its next request is answered 401.
// Revoking a revoked key changes nothing.
func RevokeKey(ctx context.Context, db *pgxpool.Pool, id int64) error {
	var exists bool
	err := db.QueryRow(ctx, `
		WITH revoked AS (UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL)
		SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = $1)`, id).Scan(&exists)
	if err != nil {
		return fmt.Errorf("revoke API key %d: %w", id, err)
	}
	if !exists {
		return fmt.Errorf("%w: %d", ErrKeyNotFound, id)
	}
	return nil
}

const apikeyUsage = `Usage:
  courrier apikey create --name NAME --scope SCOPE[,SCOPE] [--operator NAME] [--test]
  courrier apikey list
  courrier apikey revoke ID

Scopes:
  ingest  upstream systems: beneficiaries, rights and life events, requests
  staff   agency staff: answers, reminders, campaigns (needs --operator)
  admin   keys, configuration, River UI
  audit   read-only: beneficiaries, notices, requests, reports

A test key (--test) works like any other, but every notice it creates goes
to the outbox only, never to a real email, phone or letter.

The secret is printed once by create; only its hash is stored.
`

// APIKeyCommand implements "courrier apikey create|list|revoke" (args
// starts after "apikey") and writes its output to w.
func APIKeyCommand(ctx context.Context, db *pgxpool.Pool, w io.Writer, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		_, err := io.WriteString(w, apikeyUsage)
		if len(args) == 0 {
			return errors.New("apikey: a subcommand is required: create, list or revoke")
		}
		return err
	}
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
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
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
		secret, k, err := CreateKey(ctx, db, *name, *operator, scopes, *test)
		if err != nil {
			return fmt.Errorf("apikey create: %w", err)
		}
		kind := "live"
		if k.Test {
			kind = "test (outbox only)"
		}
		_, err = fmt.Fprintf(w, "Created API key %d %q, %s, scopes %s.\n\n    %s\n\nStore it now: it is shown only once.\nUse it as: Authorization: Bearer %s\n",
			k.ID, k.Name, kind, strings.Join(k.Scopes, ","), secret, secret[:shownPrefix]+"…")
		return err
	case "list":
		if len(args) > 1 {
			return fmt.Errorf("apikey list: unexpected argument %q", args[1])
		}
		keys, err := ListKeys(ctx, db)
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
		id, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil {
			return fmt.Errorf("apikey revoke: %q is not a key ID", args[1])
		}
		if err := RevokeKey(ctx, db, id); err != nil {
			return fmt.Errorf("apikey revoke: %w", err)
		}
		_, err = fmt.Fprintf(w, "Revoked API key %d.\n", id)
		return err
	}
	_, _ = io.WriteString(w, apikeyUsage)
	return fmt.Errorf("apikey: unknown subcommand %q", args[0])
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

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/staff"
)

const staffUsage = `Usage: courrier staff create|list|disable [flags]

  create --login LOGIN --role ROLE [--name "Display Name"] [--password-stdin]
            create a console account; prints the TOTP secret and its
            otpauth:// URL (enrol it in an authenticator app), and the
            password when it was generated
  list      every account: login, role, state, last login
  disable --login LOGIN
            disable an account and end its sessions

Roles: agent (search, view, send one notice), operator (campaigns, import),
approver (approve campaigns created by someone else), auditor (read-only,
compliance), admin (everything, accounts).
`

func runStaff(ctx context.Context, env *Env, args []string) error {
	sub, rest, fs, err := env.subcommandFlags("staff", staffUsage, " (create, list or disable)", args)
	if fs == nil {
		return err
	}
	login := fs.String("login", "", "account login")
	role := fs.String("role", "", "create: agent, operator, approver, auditor or admin")
	name := fs.String("name", "", "create: display name")
	pwStdin := fs.Bool("password-stdin", false, "create: read the password from the first line of stdin (default: generate one)")
	if err := fs.Parse(rest); err != nil {
		return err
	}
	switch sub {
	case "create", "list", "disable":
	default:
		return fmt.Errorf("staff: unknown subcommand %q (want create, list or disable)", sub)
	}
	return withDB(ctx, env, nil, func(pool *pgxpool.Pool) error {
		switch sub {
		case "create":
			var password string
			if *pwStdin {
				line, err := bufio.NewReader(os.Stdin).ReadString('\n')
				if err != nil && err != io.EOF {
					return fmt.Errorf("read password: %w", err)
				}
				password = strings.TrimRight(line, "\r\n")
			}
			c, err := staff.Create(ctx, pool, staff.NewAccount{Login: *login, DisplayName: *name, Role: staff.Role(*role),
				Password: password, CreatedBy: "cli"})
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "created %s (%s)\n", c.Account.Login, c.Account.Role)
			if c.Password != "" {
				fmt.Fprintf(env.Stdout, "password:    %s\n", c.Password)
			}
			fmt.Fprintf(env.Stdout, "TOTP secret: %s\nTOTP URL:    %s\n", c.TOTPSecret, c.TOTPURL)
			fmt.Fprintln(env.Stdout, "Shown once: enrol the secret in an authenticator app now.")
			return nil
		case "list":
			list, err := staff.List(ctx, pool)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "LOGIN\tROLE\tSTATE\tLAST LOGIN\tNAME")
			for _, a := range list {
				state := "active"
				if a.Disabled {
					state = "disabled"
				} else if a.LockedUntil != nil && a.LockedUntil.After(time.Now()) {
					state = "locked"
				}
				last := "-"
				if a.LastLoginAt != nil {
					last = a.LastLoginAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Login, a.Role, state, last, a.DisplayName)
			}
			return tw.Flush()
		default:
			a, err := staff.Disable(ctx, pool, *login, "cli")
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "disabled %s\n", a.Login)
			return nil
		}
	})
}

package main

import (
	"context"
	"fmt"
	"os"

	"github.com/courrier-dev/courrier/templates"
)

func runTemplates(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(env.Stderr, `Usage: courrier templates list|lint|preview [flags]

  list      every template: kind, channel, version, declared fields, file
  lint      render every template with its sample data and check fields, SMS
            budget and HTML rules; exits non-zero on any problem
  preview KIND --channel email|sms|letter [--data FILE.json|-] [--out DIR]
            render one template; for SMS shows encoding and segment count

Flags (all subcommands):
  --templates DIR   override directory (default $COURRIER_TEMPLATES)
`)
		if len(args) == 0 {
			return fmt.Errorf("templates: a subcommand is required (list, lint or preview)")
		}
		return nil
	}
	sub, rest := args[0], args[1:]
	fs := env.newFlagSet("templates "+sub, "See \"courrier templates --help\".")
	dir := fs.String("templates", env.Getenv("COURRIER_TEMPLATES"), "template override directory")
	channel := fs.String("channel", "email", "preview: channel (email, sms or letter)")
	data := fs.String("data", "", "preview: notice data as JSON (a file, or - for stdin); default: the kind's sample data")
	out := fs.String("out", "", "preview: write the rendered parts into this directory instead of printing them")
	var key string
	if sub == "preview" && len(rest) > 0 && rest[0] != "" && rest[0][0] != '-' {
		key, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	opts := &templates.Options{OverrideDir: *dir}
	switch sub {
	case "lint":
		return templates.LintCommand(env.Stdout, opts)
	case "list", "preview":
		set, err := templates.Load(opts)
		if err != nil {
			return err
		}
		if sub == "list" {
			return templates.ListCommand(env.Stdout, set)
		}
		if key == "" {
			return fmt.Errorf("templates preview: the notice kind is required, e.g. courrier templates preview rights_opened --channel sms")
		}
		return templates.PreviewCommand(env.Stdout, set, templates.PreviewOptions{
			Key: key, Channel: *channel, DataFile: *data, OutDir: *out, Stdin: os.Stdin,
		})
	}
	return fmt.Errorf("templates: unknown subcommand %q (want list, lint or preview)", sub)
}

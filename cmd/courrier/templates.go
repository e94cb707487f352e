package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/courrier-dev/courrier/templates"
)

const templatesUsage = `Usage: courrier templates list|lint|preview [flags]

  list      every template: kind, channel, version, declared fields, file
  lint      render every template with its sample data and check fields, SMS
            budget and HTML rules; exits non-zero on any problem
  preview KIND --channel email|sms|letter [--data FILE.json|-] [--out DIR]
            render one template; for SMS shows encoding and segment count

Flags (all subcommands):
  --templates DIR   override directory (default $COURRIER_TEMPLATES)
`

func runTemplates(ctx context.Context, env *Env, args []string) error {
	sub, rest, fs, err := env.subcommandFlags("templates", templatesUsage, " (list, lint or preview)", args)
	if fs == nil {
		return err
	}
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
		rep, err := templates.Lint(opts)
		printLint(env.Stdout, rep)
		return err
	case "list", "preview":
		set, err := templates.Load(opts)
		if err != nil {
			return err
		}
		if sub == "list" {
			return printTemplateList(env.Stdout, set.List())
		}
		if key == "" {
			return fmt.Errorf("templates preview: the notice kind is required, e.g. courrier templates preview rights_opened --channel sms")
		}
		var in *templates.Input
		if *data != "" {
			var r io.Reader = os.Stdin
			if *data != "-" {
				f, err := os.Open(*data)
				if err != nil {
					return fmt.Errorf("templates: preview data: %w", err)
				}
				defer f.Close()
				r = f
			}
			v, err := templates.DecodeInput(r)
			if err != nil {
				return err
			}
			in = &v
		}
		p, err := set.PreviewMessage(key, *channel, in)
		if err != nil {
			return err
		}
		return printPreview(env.Stdout, p, *out)
	}
	return fmt.Errorf("templates: unknown subcommand %q (want list, lint or preview)", sub)
}

func printTemplateList(w io.Writer, list []templates.Info) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tCHANNEL\tVERSION\tFIELDS\tFILE")
	for _, t := range list {
		if t.Missing {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t(missing)\n", t.Key, t.Channel)
			continue
		}
		fs := make([]string, len(t.Fields))
		for i, f := range t.Fields {
			fs[i] = f.Name + ":" + string(f.Type)
		}
		fields := strings.Join(fs, " ")
		if fields == "" {
			fields = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Key, t.Channel, t.Version[:12], fields, t.File)
	}
	return tw.Flush()
}

func printLint(w io.Writer, rep *templates.LintReport) {
	if rep.LoadError != "" {
		fmt.Fprintln(w, rep.LoadError)
		return
	}
	for _, l := range rep.Lines {
		switch l.Level {
		case "ok":
			extra := ""
			if l.Message != "" {
				extra = " (" + l.Message + ")"
			}
			fmt.Fprintf(w, "ok   %s%s\n", l.Name, extra)
		case "fail":
			fmt.Fprintf(w, "FAIL %s: %s\n", l.Name, l.Message)
		default:
			fmt.Fprintf(w, "%-4s %s: %s\n", l.Level, l.Name, l.Message)
		}
	}
	fmt.Fprintf(w, "%d templates, %d problems\n", rep.Templates, rep.Problems)
}

// printPreview prints a rendered message, or writes its parts into outDir.
func printPreview(w io.Writer, p *templates.Preview, outDir string) error {
	fmt.Fprintf(w, "Template: %s/%s\nVersion:  %s\nFile:     %s\n", p.Key, p.Channel, p.Version, p.File)
	if p.SMS != nil {
		fmt.Fprintf(w, "SMS:      %s, %d segment(s) of at most %d, %d characters\n", p.SMS.Encoding, p.SMS.Segments, p.MaxSegments, p.SMS.Characters)
	}
	if outDir != "" {
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return fmt.Errorf("templates: preview: %w", err)
		}
		files := map[string]string{"message.txt": p.Text}
		if p.Subject != "" {
			files["subject.txt"] = p.Subject + "\n"
		}
		if p.HTML != "" {
			files["message.html"] = p.HTML
		}
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			path := filepath.Join(outDir, n)
			if err := os.WriteFile(path, []byte(files[n]), 0o644); err != nil {
				return fmt.Errorf("templates: preview: %w", err)
			}
			fmt.Fprintf(w, "Wrote:    %s\n", path)
		}
		return nil
	}
	if p.Subject != "" {
		fmt.Fprintf(w, "Subject:  %s\n", p.Subject)
	}
	fmt.Fprintf(w, "\n----- text -----\n%s", p.Text)
	if !strings.HasSuffix(p.Text, "\n") {
		fmt.Fprintln(w)
	}
	if p.HTML != "" {
		fmt.Fprintf(w, "\n----- html -----\n%s", p.HTML)
	}
	return nil
}

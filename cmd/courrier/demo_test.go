package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

func testEnv(t *testing.T, vars map[string]string) (*Env, *bytes.Buffer) {
	t.Helper()
	out := &bytes.Buffer{}
	return &Env{
		Stdout: out, Stderr: io.Discard,
		Getenv: func(k string) string { return vars[k] },
		Pool:   pgtest.New(t),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, out
}

func TestDemoEndToEndAndIdempotent(t *testing.T) {
	t.Parallel()
	outbox := t.TempDir()
	env, out := testEnv(t, map[string]string{"COURRIER_OUTBOX": outbox})
	ctx := context.Background()
	// A real beneficiary already in the database gets nothing from the demo.
	_, err := env.Pool.Exec(ctx, `INSERT INTO recipients (ref, email) VALUES ('7000001', 'vrai@exemple.fr')`)
	require.NoError(t, err)

	require.NoError(t, Main(ctx, env, []string{"demo"}))
	text := out.String()
	require.Contains(t, text, "50 beneficiaries, 69 notices created by this run")
	// Every demo notice ended delivered (the outbox is the final evidence).
	var open, delivered, total int
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state NOT IN ('delivered','failed','no_route','cancelled')),
		count(*) FILTER (WHERE state = 'delivered'), count(*) FROM notices`).Scan(&open, &delivered, &total))
	require.Zero(t, open)
	require.Equal(t, 69, total, "17 rights notices, 50 general mailings, 2 acknowledgements")
	require.Equal(t, 69, delivered)
	// Beneficiaries with neither email nor mobile got letters; some got SMS.
	for _, sub := range []string{"email", "sms", "letter"} {
		files, err := filepath.Glob(filepath.Join(outbox, sub, "*"))
		require.NoError(t, err)
		require.NotEmpty(t, files, sub)
	}
	var emails int
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM notices WHERE channel = 'email'`).Scan(&emails))
	files, _ := filepath.Glob(filepath.Join(outbox, "email", "*.eml"))
	require.Len(t, files, emails, "one .eml file per notice delivered by email")
	require.Contains(t, text, "general_information")
	// Letters are PDFs, and the demo's cut-off left one print batch with
	// its manifest in the drop directory, one PDF per letter notice.
	var byLetter int
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM notices WHERE channel = 'letter'`).Scan(&byLetter))
	pdfs, _ := filepath.Glob(filepath.Join(outbox, "letter", "L*.pdf"))
	require.Len(t, pdfs, byLetter)
	batches, _ := filepath.Glob(filepath.Join(outbox, "print", "in", "B*"))
	require.Len(t, batches, 1)
	for _, f := range []string{"manifest.csv", "manifest.json", "SHA256SUMS"} {
		require.FileExists(t, filepath.Join(batches[0], f))
	}
	require.Contains(t, text, "Print batch B")
	var acknowledged int
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM requests WHERE state = 'acknowledged'`).Scan(&acknowledged))
	require.Equal(t, 2, acknowledged, "the requests are acknowledged once their notices are delivered")
	var campaignState string
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT state FROM campaigns`).Scan(&campaignState))
	require.Equal(t, "completed", campaignState)
	require.Contains(t, text, "total                                        69")

	// A second run creates nothing and sends nothing more.
	out.Reset()
	require.NoError(t, Main(ctx, env, []string{"demo"}))
	require.Contains(t, out.String(), "0 notices created by this run")
	files2, _ := filepath.Glob(filepath.Join(outbox, "email", "*.eml"))
	require.Len(t, files2, len(files))
}

func TestDemoOverseasNumbersUseTheirOwnRegion(t *testing.T) {
	t.Parallel()
	for _, p := range demoPeople() {
		switch {
		case p.Phone == "":
		case strings.HasPrefix(p.PostalCode, "971"):
			require.True(t, strings.HasPrefix(p.Phone, "+590"), p.Phone)
		case strings.HasPrefix(p.PostalCode, "974"), strings.HasPrefix(p.PostalCode, "976"):
			require.True(t, strings.HasPrefix(p.Phone, "+262"), p.Phone)
		case strings.HasPrefix(p.PostalCode, "972"):
			require.True(t, strings.HasPrefix(p.Phone, "+596"), p.Phone)
		case strings.HasPrefix(p.PostalCode, "973"):
			require.True(t, strings.HasPrefix(p.Phone, "+594"), p.Phone)
		default:
			require.True(t, strings.HasPrefix(p.Phone, "+33"), p.Phone)
		}
	}
}

func TestHelpAndUnknownCommand(t *testing.T) {
	t.Parallel()
	out := &bytes.Buffer{}
	env := &Env{Stdout: out, Stderr: out, Getenv: os.Getenv}
	require.NoError(t, Main(context.Background(), env, []string{"--help"}))
	require.Contains(t, out.String(), "demo")
	require.Contains(t, out.String(), "DATABASE_URL")
	err := Main(context.Background(), env, []string{"frobnicate"})
	require.ErrorContains(t, err, `unknown command "frobnicate"`)
}

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLettersCommand: preview writes a PDF that pdfinfo reads; after the
// demo, batches lists the batch, a second cut-off finds nothing, and an
// acknowledgement file is recorded once.
func TestLettersCommand(t *testing.T) {
	t.Parallel()
	outbox := t.TempDir()
	env, out := testEnv(t, map[string]string{"COURRIER_OUTBOX": outbox})
	ctx := context.Background()

	pdf := filepath.Join(t.TempDir(), "preview.pdf")
	require.NoError(t, Main(ctx, env, []string{"letters", "preview", "rights_opened", "--out", pdf}))
	info, err := exec.Command("pdfinfo", pdf).Output()
	require.NoError(t, err)
	require.Regexp(t, `Pages:\s+1\n`, string(info))
	require.Contains(t, string(info), "(A4)")
	require.ErrorContains(t, Main(ctx, env, []string{"letters", "preview", "no_such_kind", "--out", pdf}), "no letter template")

	require.NoError(t, Main(ctx, env, []string{"demo"}))
	out.Reset()
	require.NoError(t, Main(ctx, env, []string{"letters", "batches"}))
	require.Contains(t, out.String(), "handed")
	batch := strings.Fields(strings.Split(out.String(), "\n")[1])[0]

	out.Reset()
	require.NoError(t, Main(ctx, env, []string{"letters", "batch"}))
	require.Contains(t, out.String(), "no letter waiting")

	var letter string
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT 'L' || min(delivery_id) FROM letters`).Scan(&letter))
	ack := filepath.Join(t.TempDir(), "ack-1.csv")
	writeFile(t, ack, "batch_id,letter_id,status,date\n"+batch+","+letter+",posted,2026-12-08\n")
	out.Reset()
	require.NoError(t, Main(ctx, env, []string{"letters", "receipts", ack}))
	require.Contains(t, out.String(), "ack-1.csv: 1 rows, 1 recorded")
	out.Reset()
	require.NoError(t, Main(ctx, env, []string{"letters", "receipts", ack}))
	require.Contains(t, out.String(), "duplicate file")

	out.Reset()
	require.NoError(t, Main(ctx, env, []string{"letters", "reproduce", letter, "--out", filepath.Join(t.TempDir(), "r.pdf")}))
	require.Contains(t, out.String(), "byte-identical to the recorded PDF: true")
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

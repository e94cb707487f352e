package main

import (
	"bytes"
	"context"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/agencies"
)

// TestDemoTwoCafs runs the demo with the embedded two-Caf agency file: each
// beneficiary's general mailing carries their own Caf's sender, letterhead
// data, mediator and reception hours.
func TestDemoTwoCafs(t *testing.T) {
	t.Parallel()
	outbox := t.TempDir()
	env, out := testEnv(t, map[string]string{"COURRIER_OUTBOX": outbox})
	ctx := context.Background()
	require.NoError(t, Main(ctx, env, []string{"demo"}))
	require.Contains(t, out.String(), "Beneficiaries per Caf (COURRIER_AGENCIES): 751 Caf de Paris: ")
	require.Contains(t, out.String(), "974 Caf de La Réunion: ")

	set := agencies.Example()
	files, err := filepath.Glob(filepath.Join(outbox, "email", "*.eml"))
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		require.NoError(t, err)
		body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
		require.NoError(t, err)
		if !strings.Contains(string(body), "EN CAS DE DÉSACCORD") {
			continue // not a general mailing
		}
		for _, code := range []string{"751", "974"} {
			a := set.Get(code)
			from, err := mail.ParseAddress(msg.Header.Get("From"))
			require.NoError(t, err)
			want, _ := mail.ParseAddress(a.Senders.EmailFrom)
			if from.Address != want.Address {
				continue
			}
			seen[code] = true
			for _, s := range []string{a.Mediator.Email, a.Mediator.Phone, a.ReceptionPoints[0].OpeningHours, a.ReceptionPoints[0].BusyHours} {
				require.Contains(t, string(body), s, "%s: %s", code, f)
			}
			other := set.Get(map[string]string{"751": "974", "974": "751"}[code])
			require.NotContains(t, string(body), other.Mediator.Email, "%s: another Caf's mediator", code)
		}
	}
	require.True(t, seen["751"] && seen["974"], "general mailings of both Cafs: %v", seen)

	// Letters (PDF, read back with pdftotext) carry the Caf's letterhead and
	// are dated from its city.
	pdfs, _ := filepath.Glob(filepath.Join(outbox, "print", "in", "*", "*.pdf"))
	require.NotEmpty(t, pdfs, "the demo's print batch")
	heads := map[string]bool{}
	for _, f := range pdfs {
		out, err := exec.Command("pdftotext", "-layout", f, "-").Output()
		require.NoError(t, err)
		text := strings.Join(strings.Fields(string(out)), " ")
		for code, place := range map[string]string{"751": "Paris, le ", "974": "Saint-Denis, le "} {
			if strings.Contains(text, set.Get(code).Letterhead[0]) && strings.Contains(text, place) {
				heads[code] = true
			}
		}
	}
	require.True(t, heads["751"] && heads["974"], "letters of both Cafs with their letterhead: %v", heads)
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/compliance"
	"github.com/courrier-dev/courrier/internal/tsatest"
	"github.com/courrier-dev/courrier/ledger"
)

// The demo ends sealed and verified; an auditor verifies a pack with the
// public key alone; edits are named.
func TestDemoSealsAndPacksVerifyWithThePublicKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	keyFile := filepath.Join(dir, "ledger.key")
	env, out := testEnv(t, map[string]string{"COURRIER_OUTBOX": filepath.Join(dir, "outbox"), ledger.KeyFileEnv: keyFile})

	// keys generate refuses to print the signing key and writes it 0600.
	require.Error(t, Main(ctx, env, []string{"keys", "generate"}))
	require.NoError(t, Main(ctx, env, []string{"keys", "generate", "--out", keyFile}))
	fi, err := os.Stat(keyFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	out.Reset()
	require.NoError(t, Main(ctx, env, []string{"keys", "public"}))
	pub := strings.TrimSpace(out.String())
	require.True(t, strings.HasPrefix(pub, "courrier-ledger+"), pub)

	out.Reset()
	require.NoError(t, Main(ctx, env, []string{"demo"}))
	require.Contains(t, out.String(), "Ledger verified:")
	require.Contains(t, out.String(), ", 0 not yet sealed;")
	require.Contains(t, out.String(), "— courrier-ledger ") // the signed checkpoint

	out.Reset()
	witness := filepath.Join(dir, "checkpoint.txt")
	require.NoError(t, Main(ctx, env, []string{"verify", "--save-checkpoint", witness}))
	require.True(t, strings.HasPrefix(out.String(), "OK "), out.String())

	var ref string
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT r.ref FROM recipients r JOIN notices n ON n.recipient_id = r.id
		JOIN deliveries d ON d.notice_id = n.id WHERE d.channel = 'email' ORDER BY r.ref LIMIT 1`).Scan(&ref))
	pack := filepath.Join(dir, "pack.json")
	require.NoError(t, Main(ctx, env, []string{"evidence", "--recipient", ref, "--out", pack}))

	// Offline: no database, only the public key.
	offline := &Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Getenv: func(string) string { return "" }}
	require.Error(t, Main(ctx, offline, []string{"verify", "--pack", pack}), "a pack is never verified with its own key")
	require.NoError(t, Main(ctx, offline, []string{"verify", "--pack", pack, "--key", pub}))
	require.Contains(t, offline.Stdout.(*bytes.Buffer).String(), "OK pack")

	b, err := os.ReadFile(pack)
	require.NoError(t, err)
	var p compliance.Pack
	require.NoError(t, json.Unmarshal(b, &p))
	p.Notices[0].Kind = "no_rights"
	forged, err := json.Marshal(p)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(pack, forged, 0o600))
	err = Main(ctx, offline, []string{"verify", "--pack", pack, "--key", pub})
	require.ErrorIs(t, err, compliance.ErrPackInvalid)
	require.Contains(t, err.Error(), "kind shown as \"no_rights\"")

	// Reports: per Caf, and with a breakdown.
	out.Reset()
	require.NoError(t, Main(ctx, env, []string{"report", "general-mailings", "--from", "2020-01-01", "--to", "2030-12-31", "--by-caf", "--format", "json", "--accept", "all"}))
	var rep compliance.Report
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	require.NotEmpty(t, rep.ByCaf)
	require.Error(t, Main(ctx, env, []string{"report", "general-mailings", "--from", "2020-01-01", "--to", "2030-12-31", "--caf", "75;1"}))

	// A plain UPDATE of an operational table is named by verify.
	_, err = env.Pool.Exec(ctx, `UPDATE notices SET kind = 'no_rights' WHERE id = (SELECT min(id) FROM notices)`)
	require.NoError(t, err)
	out.Reset()
	err = Main(ctx, env, []string{"verify", "--witness", witness})
	require.ErrorIs(t, err, errLedgerBroken)
	require.Contains(t, out.String(), `notices.kind is "no_rights"`)
}

// With a timestamp authority configured, sealing before exit countersigns
// the checkpoint and verify checks the token.
func TestSealWithATimestampAuthority(t *testing.T) {
	t.Parallel()
	url, _, certFile := tsatest.StartWithCert(t)
	ctx := context.Background()
	env, out := testEnv(t, map[string]string{"COURRIER_TSA_URL": url, "COURRIER_TSA_CERT": certFile})
	_, err := env.Pool.Exec(ctx, `INSERT INTO recipients (ref, email) VALUES ('R1', 'a@example.fr');
		INSERT INTO notices (recipient_id, kind, template_key, idempotency_key) SELECT id, 'reminder', 'reminder', 'k' FROM recipients`)
	require.NoError(t, err)
	require.NoError(t, Main(ctx, env, []string{"seal"}))
	var tokens int
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM ledger_checkpoints WHERE tsa_token IS NOT NULL`).Scan(&tokens))
	require.Equal(t, 1, tokens)
	out.Reset()
	require.NoError(t, Main(ctx, env, []string{"verify"}))
	require.Contains(t, out.String(), "(1 timestamps checked)")
}

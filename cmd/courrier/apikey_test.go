package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/jobs"
)

func TestAPIKeyCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env, out := testEnv(t, map[string]string{})
	run := func(args ...string) (string, error) {
		out.Reset()
		err := Main(ctx, env, append([]string{"apikey"}, args...))
		return out.String(), err
	}
	s, err := run("create", "--name", "cristal", "--scope", "ingest,audit", "--test")
	require.NoError(t, err)
	require.Contains(t, s, "Created API key 1 \"cristal\", test (outbox only), scopes ingest,audit.")
	secret := strings.Fields(strings.Split(s, "\n")[2])[0]
	require.True(t, strings.HasPrefix(secret, jobs.TestPrefix))
	var stored []byte
	require.NoError(t, env.Pool.QueryRow(ctx, "SELECT hash FROM api_keys").Scan(&stored))
	require.Equal(t, jobs.HashAPISecret(secret), stored, "only the hash is stored")

	_, err = run("create", "--name", "console", "--scope", "staff")
	require.ErrorContains(t, err, "--operator")
	_, err = run("create", "--name", "x", "--scope", "root")
	require.ErrorContains(t, err, `unknown scope "root"`)

	s, err = run("list")
	require.NoError(t, err)
	require.Contains(t, s, "cristal")
	require.Contains(t, s, secret[:jobs.APIKeyShownPrefix]+"…")
	require.NotContains(t, s, secret)

	// A status callback: its secret is shown once, never listed.
	s, err = run("callback", "set", "1", "--url", "http://127.0.0.1:9/hook")
	require.NoError(t, err)
	require.Contains(t, s, "go to http://127.0.0.1:9/hook")
	cbSecret := strings.Fields(strings.Split(s, "\n")[3])[0]
	require.True(t, strings.HasPrefix(cbSecret, "whsec_"), s)
	s, err = run("callback", "show", "1")
	require.NoError(t, err)
	require.Contains(t, s, "http://127.0.0.1:9/hook")
	require.NotContains(t, s, cbSecret)
	_, err = run("callback", "set", "1", "--url", "http://example.org/hook")
	require.ErrorContains(t, err, "must be https")
	s, err = run("callback", "failures")
	require.NoError(t, err)
	require.Contains(t, s, "EVENT")
	_, err = run("callback", "remove", "1")
	require.NoError(t, err)
	_, err = run("callback", "show", "1")
	require.ErrorIs(t, err, jobs.ErrNoCallback)

	_, err = run("revoke", "1")
	require.NoError(t, err)
	var revoked bool
	require.NoError(t, env.Pool.QueryRow(ctx, "SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = 1").Scan(&revoked))
	require.True(t, revoked)
	_, err = run("revoke", "99")
	require.True(t, errors.Is(err, jobs.ErrKeyNotFound), err)

	s, err = run("--help")
	require.NoError(t, err)
	require.Contains(t, s, "courrier apikey create --name NAME")
}

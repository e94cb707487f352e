package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStaffCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env, out := testEnv(t, map[string]string{})
	run := func(args ...string) (string, error) {
		out.Reset()
		err := Main(ctx, env, append([]string{"staff"}, args...))
		return out.String(), err
	}
	s, err := run("create", "--login", "Marie.Curie", "--name", "Marie Curie", "--role", "agent")
	require.NoError(t, err)
	require.Contains(t, s, "created marie.curie (agent)")
	require.Contains(t, s, "password:")
	require.Contains(t, s, "otpauth://totp/courrier:marie.curie")
	var hash string
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT password_hash FROM staff_accounts`).Scan(&hash))
	require.Regexp(t, `^\$argon2id\$`, hash)

	_, err = run("create", "--login", "marie.curie", "--role", "agent")
	require.ErrorContains(t, err, "already exists")
	_, err = run("create", "--login", "x", "--role", "root")
	require.ErrorContains(t, err, "role")

	s, err = run("list")
	require.NoError(t, err)
	require.Regexp(t, `marie\.curie\s+agent\s+active`, s)
	_, err = run("disable", "--login", "marie.curie")
	require.NoError(t, err)
	s, _ = run("list")
	require.Regexp(t, `marie\.curie\s+agent\s+disabled`, s)
	_, err = run("disable", "--login", "nobody")
	require.ErrorContains(t, err, "not found")
	_, err = run("frobnicate")
	require.ErrorContains(t, err, "unknown subcommand")
}

package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/httpapi"
	"github.com/courrier-dev/courrier/internal/pgtest"
)

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// documented reports whether doc lists method on the mux path: a wildcard
// segment of the mux ("{action}") stands for any documented segment that
// starts with a parameter ("{id}:approve").
func documented(doc map[string]map[string]any, method, path string) bool {
	want := strings.Split(pathParam.ReplaceAllString(path, "{}"), "/")
	for p, ops := range doc {
		if _, ok := ops[strings.ToLower(method)]; !ok {
			continue
		}
		got := strings.Split(pathParam.ReplaceAllString(p, "{}"), "/")
		if len(got) != len(want) {
			continue
		}
		match := true
		for i := range want {
			if want[i] != got[i] && (want[i] != "{}" || !strings.HasPrefix(got[i], "{}")) {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// Every /v1 route that `serve` mounts is in /v1/openapi.json.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vars := map[string]string{"TWILIO_AUTH_TOKEN": "x", "COURRIER_UNSUBSCRIBE_SECRET": "0123456789abcdef0123456789abcdef",
		"COURRIER_OUTBOX": t.TempDir()}
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return vars[k] },
		Pool: pgtest.New(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	rt, err := env.newRuntime(ctx, env.Pool, env.Logger, runtimeOpts{})
	require.NoError(t, err)
	defer rt.Close()
	app, err := env.newApp(ctx, env.Pool, rt)
	require.NoError(t, err)

	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(httpapi.OpenAPI(), &doc))
	checked := 0
	for _, route := range app.http.Routes() {
		method, path, ok := strings.Cut(route, " ")
		if !ok || !strings.HasPrefix(path, "/v1/") {
			continue // the /v1/ catch-all, health, metrics, webhooks, River UI, console
		}
		checked++
		require.True(t, documented(doc.Paths, method, path), "%s is mounted but not in /v1/openapi.json", route)
	}
	require.GreaterOrEqual(t, checked, 17)
	// And the test itself can fail.
	require.False(t, documented(doc.Paths, "DELETE", "/v1/events/rights"))
}

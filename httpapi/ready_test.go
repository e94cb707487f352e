package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

// TestReadyz: a failing critical check takes the process out of rotation
// (503), a failing non-critical one only reports "degraded".
func TestReadyz(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	get := func(s *Server) (int, map[string]any) {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		var out map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
		return rec.Code, out
	}
	ok := func(context.Context) (any, error) { return map[string]int{"applied": 3}, nil }
	down := func(context.Context) (any, error) { return nil, errors.New("circuit open: sms/twilio") }

	s := NewServer(pool, nil)
	s.AddReadyCheck(ReadyCheck{Name: "migrations", Critical: true, Check: ok})
	code, out := get(s)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ready", out["status"])

	s.AddReadyCheck(ReadyCheck{Name: "providers", Check: down})
	code, out = get(s)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "degraded", out["status"])
	require.Equal(t, "circuit open: sms/twilio", out["checks"].(map[string]any)["providers"].(map[string]any)["error"])

	s.AddReadyCheck(ReadyCheck{Name: "pending", Critical: true, Check: down})
	code, out = get(s)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "not ready", out["status"])
}

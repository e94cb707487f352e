package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/jobs"
)

// opsBundle is the API with the campaign actions and callback endpoints
// mounted, and a second staff key for four-eyes.
func opsBundle(t *testing.T) *apiBundle {
	t.Helper()
	b := setupAPI(t, nil)
	s := b.handler.(*Server)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	(&CampaignActions{DB: b.pool, River: b.api.River, Logger: logger}).Register(s)
	(&Callbacks{DB: b.pool, Logger: logger}).Register(s)
	secret, k, err := jobs.CreateAPIKey(context.Background(), b.pool, jobs.NewAPIKey{Name: "approver", Operator: "Paul Dubois", Scopes: []string{ScopeStaff}})
	require.NoError(t, err)
	b.keys["staff2"], b.keyIDs["staff2"] = secret, k.ID
	return b
}

func TestCampaignActions(t *testing.T) {
	t.Parallel()
	b := opsBundle(t)
	ctx := context.Background()
	_, err := b.pool.Exec(ctx, `INSERT INTO recipients (ref, email, postal_code) SELECT 'C' || g, 'c' || g || '@exemple.fr', '75011' FROM generate_series(1, 5) g`)
	require.NoError(t, err)
	c, err := jobs.CreateCampaign(ctx, b.pool, campaigns.New{Kind: campaigns.GeneralMailing, Name: "printemps",
		Data: map[string]any{"period": "printemps 2027"}, CreatedBy: "key:" + itoa(b.keyIDs["staff"]) + "/Marie Curie"}, nil)
	require.NoError(t, err)
	require.True(t, c.NeedsApproval)
	path := func(action string) string { return "/v1/campaigns/" + itoa(c.ID) + ":" + action }
	errField := func(out map[string]any) (string, string) {
		e := out["error"].(map[string]any)
		f, _ := e["field"].(string)
		return e["code"].(string), f
	}

	// Scope, four-eyes and state are enforced.
	status, out := b.doJSON(t, "POST", path("approve"), "ingest", "")
	require.Equal(t, http.StatusForbidden, status, out)
	status, out = b.doJSON(t, "POST", path("start"), "staff", "")
	require.Equal(t, http.StatusForbidden, status, out)
	require.Contains(t, out["error"].(map[string]any)["message"], "needs approval")
	status, out = b.doJSON(t, "POST", path("approve"), "staff", "")
	require.Equal(t, http.StatusForbidden, status, out)
	code, field := errField(out)
	require.Equal(t, "forbidden", code)
	require.Equal(t, "operator", field)
	require.Contains(t, out["error"].(map[string]any)["message"], "four-eyes")

	status, out = b.doJSON(t, "POST", path("approve"), "staff2", "")
	require.Equal(t, http.StatusOK, status, out)
	camp := out["campaign"].(map[string]any)
	require.Equal(t, "approved", camp["state"])
	require.Equal(t, "key:"+itoa(b.keyIDs["staff2"])+"/Paul Dubois", camp["approved_by"])

	status, out = b.doJSON(t, "POST", path("start"), "staff", `{"job_size": 2}`)
	require.Equal(t, http.StatusOK, status, out)
	camp = out["campaign"].(map[string]any)
	require.Contains(t, []any{"running", "scheduled"}, camp["state"])
	require.EqualValues(t, 2, camp["job_size"])
	require.Equal(t, 1, b.countWhere(t, "river_job", "kind = 'fanout'"))

	status, out = b.doJSON(t, "POST", path("pause"), "staff", "")
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, "paused", out["campaign"].(map[string]any)["state"])
	status, out = b.doJSON(t, "POST", path("resume"), "staff2", "")
	require.Equal(t, http.StatusOK, status, out)
	status, out = b.doJSON(t, "POST", path("cancel"), "staff", `{"reason": "erreur de modèle"}`)
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, "cancelled", out["campaign"].(map[string]any)["state"])
	require.Contains(t, out, "notices_cancelled")
	status, out = b.doJSON(t, "POST", path("retry"), "staff", "")
	require.Equal(t, http.StatusConflict, status, out)

	// Every action is recorded with the key's operator.
	events, err := campaigns.Events(ctx, b.pool, c.ID)
	require.NoError(t, err)
	var got []string
	for _, e := range events {
		got = append(got, e.Event+" "+e.Actor)
	}
	require.Contains(t, got, "approved key:"+itoa(b.keyIDs["staff2"])+"/Paul Dubois")
	require.Contains(t, got, "cancelled key:"+itoa(b.keyIDs["staff"])+"/Marie Curie")

	// Unknown actions and campaigns, bad bodies.
	status, _ = b.doJSON(t, "POST", path("explode"), "staff", "")
	require.Equal(t, http.StatusNotFound, status)
	status, _ = b.doJSON(t, "POST", "/v1/campaigns/999:approve", "staff2", "")
	require.Equal(t, http.StatusNotFound, status)
	status, _ = b.doJSON(t, "POST", "/v1/campaigns/abc:approve", "staff2", "")
	require.Equal(t, http.StatusNotFound, status)
	status, out = b.doJSON(t, "POST", path("start"), "staff", `{"job_sise": 2}`)
	require.Equal(t, http.StatusBadRequest, status)
	_, field = errField(out)
	require.Equal(t, "job_sise", field)
}

func TestCallbackEndpoints(t *testing.T) {
	t.Parallel()
	b := opsBundle(t)
	status, out := b.doJSON(t, "GET", "/v1/callback", "ingest", "")
	require.Equal(t, http.StatusNotFound, status, out)
	status, out = b.doJSON(t, "PUT", "/v1/callback", "ingest", `{"url": "http://crm.caf.fr/hook"}`)
	require.Equal(t, http.StatusBadRequest, status, out)
	require.Equal(t, "url", out["error"].(map[string]any)["field"])

	status, out = b.doJSON(t, "PUT", "/v1/callback", "ingest", `{"url": "https://crm.caf.fr/hook"}`)
	require.Equal(t, http.StatusOK, status, out)
	secret := out["secret"].(string)
	require.True(t, strings.HasPrefix(secret, "whsec_"))
	status, raw := b.do(t, "GET", "/v1/callback", "ingest", "")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, raw, "https://crm.caf.fr/hook")
	require.NotContains(t, raw, secret, "the secret is shown once")

	// Failures: a key sees its own; only admin another's.
	_, err := b.pool.Exec(context.Background(), `INSERT INTO callback_events (event_id, key_id, type, payload, state, attempts, last_error)
		VALUES (gen_random_uuid(), $1, 'notice.failed', '{}', 'failed', 15, 'receiver answered 500')`, b.keyIDs["ingest"])
	require.NoError(t, err)
	status, out = b.doJSON(t, "GET", "/v1/callback/failures", "ingest", "")
	require.Equal(t, http.StatusOK, status, out)
	require.Len(t, out["items"], 1)
	status, out = b.doJSON(t, "GET", "/v1/callback/failures", "audit", "")
	require.Equal(t, http.StatusOK, status, out)
	require.Empty(t, out["items"])
	status, _ = b.doJSON(t, "GET", "/v1/callback/failures?key="+itoa(b.keyIDs["ingest"]), "audit", "")
	require.Equal(t, http.StatusForbidden, status)
	status, out = b.doJSON(t, "GET", "/v1/callback/failures", "admin", "")
	require.Equal(t, http.StatusOK, status, out)
	require.Len(t, out["items"], 1)

	status, _ = b.do(t, "DELETE", "/v1/callback", "ingest", "")
	require.Equal(t, http.StatusNoContent, status)
	status, _ = b.do(t, "GET", "/v1/callback", "ingest", "")
	require.Equal(t, http.StatusNotFound, status)
	status, _ = b.do(t, "PUT", "/v1/callback", "", `{"url": "https://crm.caf.fr/hook"}`)
	require.Equal(t, http.StatusUnauthorized, status)
}

func (b *apiBundle) countWhere(t *testing.T, table, where string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table+" WHERE "+where).Scan(&n))
	return n
}

package httpapi

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/recipients"
)

// A test key can neither read nor write live rows, and live keys never see
// test rows.
func TestTestKeysAreSandboxed(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	ctx := context.Background()
	b.recipient(t, "1000001") // live
	b.recipient(t, "1000002") // live
	live, err := recipients.GetByRef(ctx, b.pool, "1000001")
	require.NoError(t, err)
	status, out := b.doJSON(t, "POST", "/v1/events/rights", "ingest",
		`{"event_id":"E-live","recipient_ref":"1000001","event":"opened","benefit":"APL","amount":245.3,"effective_on":"2027-04-01"}`)
	require.Equal(t, 201, status, out)
	liveNotice := strconv.FormatInt(int64(out["notice_id"].(float64)), 10)
	status, out = b.doJSON(t, "POST", "/v1/requests", "ingest",
		`{"request_id":"DEM-live","recipient_ref":"1000001","kind":"benefit_claim","received_at":"2027-03-12T18:00:00+01:00","channel":"online"}`)
	require.Equal(t, 201, status, out)
	before := b.written(t)

	// Writes against live beneficiaries: 404, nothing written.
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/events/rights", `{"event_id":"E-t1","recipient_ref":"1000002","event":"opened","benefit":"AF","amount":120,"effective_on":"2027-04-01"}`},
		{"POST", "/v1/events/life", `{"event_id":"L-t1","recipient_ref":"1000002","kind":"first_birth","occurred_on":"2027-03-01"}`},
		{"POST", "/v1/requests", `{"request_id":"DEM-t1","recipient_ref":"1000002","kind":"benefit_claim","received_at":"2027-03-12T18:00:00+01:00","channel":"online"}`},
		{"POST", "/v1/requests/DEM-live/answer", `{"answer":"accordé"}`},
	} {
		status, body := b.do(t, c.method, c.path, "test", c.body)
		require.Equal(t, 404, status, c.path+": "+body)
	}
	status, body := b.do(t, "POST", "/v1/recipients:import", "test", "ref;given_name\n1000001;X\n")
	require.Equal(t, 403, status, body)
	require.Equal(t, before, b.written(t), "nothing written")

	// Reads of live rows: 404.
	for _, path := range []string{"/v1/recipients/1000002", "/v1/notices/" + liveNotice, "/v1/requests/DEM-live"} {
		status, body := b.do(t, "GET", path, "test", "")
		require.Equal(t, 404, status, path+": "+body)
	}

	// A PUT with a live number creates a test beneficiary beside the live
	// one, which stays as it was (its email is what a live notice uses).
	status, out = b.doJSON(t, "PUT", "/v1/recipients/1000001", "test", `{"given_name":"Pirate","email":"attacker@evil.example"}`)
	require.Equal(t, 201, status, out)
	require.Equal(t, true, out["test"])
	after, err := recipients.GetByRef(ctx, b.pool, "1000001")
	require.NoError(t, err)
	require.Equal(t, live, after)
	status, out = b.doJSON(t, "POST", "/v1/events/rights", "test",
		`{"event_id":"E-t2","recipient_ref":"1000001","event":"opened","benefit":"AF","amount":120,"effective_on":"2027-04-01"}`)
	require.Equal(t, 201, status, out)
	testNotice := strconv.FormatInt(int64(out["notice_id"].(float64)), 10)
	var onLive int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM notices WHERE recipient_id = $1 AND test`, live.ID).Scan(&onLive))
	require.Zero(t, onLive, "no test notice hangs off the live beneficiary")
	var eventTest bool
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT test FROM rights_events WHERE external_id = 'E-t2'`).Scan(&eventTest))
	require.True(t, eventTest)

	// Live keys never see test rows.
	status, out = b.doJSON(t, "GET", "/v1/recipients/1000001", "staff", "")
	require.Equal(t, 200, status)
	require.Equal(t, "Léa", out["recipient"].(map[string]any)["given_name"])
	require.Len(t, out["notices"], 2, "the rights notice and the request's acknowledgement")
	status, _ = b.do(t, "GET", "/v1/notices/"+testNotice, "ingest", "")
	require.Equal(t, 404, status)
	status, out = b.doJSON(t, "GET", "/v1/notices/"+testNotice, "test", "")
	require.Equal(t, 200, status, out)
}

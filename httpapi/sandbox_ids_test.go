package httpapi

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// Live and test data have separate id spaces: an event or request id used
// in live data is free in the sandbox and the other way round, so that a
// test key cannot detect a live id (a 409 would tell it one exists) and a
// live caller is never blocked by an id a test caller chose.
func TestTestAndLiveIDsAreSeparate(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	ctx := context.Background()
	b.recipient(t, "2000001") // live
	status, out := b.doJSON(t, "PUT", "/v1/recipients/2000009", "test", `{"given_name":"Test","email":"t@exemple.fr"}`)
	require.Equal(t, 201, status, out)

	event := func(key, id, ref string) (int, map[string]any) {
		return b.doJSON(t, "POST", "/v1/events/rights", key,
			`{"event_id":"`+id+`","recipient_ref":"`+ref+`","event":"opened","benefit":"APL","amount":245.3,"effective_on":"2027-04-01"}`)
	}
	life := func(key, id, ref string) (int, map[string]any) {
		return b.doJSON(t, "POST", "/v1/events/life", key,
			`{"event_id":"`+id+`","recipient_ref":"`+ref+`","kind":"first_birth","occurred_on":"2027-03-01"}`)
	}
	request := func(key, id, ref string) (int, map[string]any) {
		return b.doJSON(t, "POST", "/v1/requests", key,
			`{"request_id":"`+id+`","recipient_ref":"`+ref+`","kind":"benefit_claim","received_at":"2027-03-12T18:00:00+01:00","channel":"online"}`)
	}
	for _, post := range []func(key, id, ref string) (int, map[string]any){event, life, request} {
		// A live id, then the same id with a test key: created in the
		// sandbox, not a conflict.
		status, out := post("ingest", "ID-live", "2000001")
		require.Equal(t, 201, status, out)
		status, out = post("test", "ID-live", "2000009")
		require.Equal(t, 201, status, out)
		require.Equal(t, true, out["created"], out)
		// A test id first, then the same id live: created live.
		status, out = post("test", "ID-test", "2000009")
		require.Equal(t, 201, status, out)
		status, out = post("ingest", "ID-test", "2000001")
		require.Equal(t, 201, status, out)
		require.Equal(t, true, out["created"], out)
		// Replays stay replays in each world.
		status, out = post("test", "ID-live", "2000009")
		require.Equal(t, 200, status, out)
		status, out = post("ingest", "ID-test", "2000001")
		require.Equal(t, 200, status, out)
	}

	// Each world has its own notices of a shared id.
	var notices int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM notices WHERE idempotency_key IN
		('rights_event:ID-live', 'rights_event:ID-test', 'request:ID-live:ack', 'request:ID-test:ack')`).Scan(&notices))
	require.Equal(t, 8, notices)

	// Each key reads and answers its own world's request of a shared id.
	status, out = b.doJSON(t, "GET", "/v1/requests/ID-live", "test", "")
	require.Equal(t, 200, status, out)
	require.Equal(t, "2000009", out["recipient_ref"])
	status, out = b.doJSON(t, "GET", "/v1/requests/ID-live", "ingest", "")
	require.Equal(t, 200, status, out)
	require.Equal(t, "2000001", out["recipient_ref"])
	status, out = b.doJSON(t, "POST", "/v1/requests/ID-live/answer", "test", `{"answer":"accordé"}`)
	require.Equal(t, 201, status, out)
	require.Equal(t, "2000009", out["recipient_ref"])
	var liveAnswered bool
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT answer_notice_id IS NOT NULL FROM requests WHERE external_id = 'ID-live' AND NOT test`).Scan(&liveAnswered))
	require.False(t, liveAnswered, "the test key's answer did not touch the live request")

	// Every live notice went to the live beneficiary, every test one to the
	// test beneficiary.
	var crossed int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM notices n JOIN recipients r ON r.id = n.recipient_id
		WHERE n.test <> r.test`).Scan(&crossed))
	require.Zero(t, crossed)
}

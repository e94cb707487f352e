package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/jobs"
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

// A reminder's idempotency key is unique per world too: a test key reusing a
// live reminder's key creates its own test reminder (no 409 revealing the
// live one), and the other way round.
func TestReminderKeysOfTestAndLiveAreSeparate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	client, err := jobs.NewInsertClient(pool, nil)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO recipients (ref, benefits, postal_code, test) VALUES ('R1', '{RSA}', '75011', false), ('R9', '{RSA}', '75011', true)`)
	require.NoError(t, err)
	h := RemindersHandler(pool, client, &campaigns.Config{ApprovalThreshold: 2}, nil)
	live := Key{ID: 1, Name: "console", Operator: "Marie Curie", Scopes: []string{"staff"}}
	test := Key{ID: 2, Name: "recette", Operator: "Marie Curie", Scopes: []string{"staff"}, Test: true}
	post := func(key Key, ref, idem string) (int, string) {
		body := `{"template": "reminder_missing_document", "recipient_ref": "` + ref + `", "idempotency_key": "` + idem + `",
			"data": {"documents": ["un justificatif de domicile"], "due_date": "2027-05-01"}, "reason": "dossier incomplet"}`
		req := httptest.NewRequest(http.MethodPost, "/v1/reminders", strings.NewReader(body)).WithContext(WithKey(ctx, key))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	status, body := post(live, "R1", "K-live")
	require.Equal(t, http.StatusCreated, status, body)
	status, body = post(test, "R9", "K-live")
	require.Equal(t, http.StatusCreated, status, body)
	status, body = post(test, "R9", "K-test")
	require.Equal(t, http.StatusCreated, status, body)
	status, body = post(live, "R1", "K-test")
	require.Equal(t, http.StatusCreated, status, body)
	status, body = post(test, "R9", "K-live") // a replay stays a replay
	require.Equal(t, http.StatusOK, status, body)
	var crossed int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM notices n JOIN recipients r ON r.id = n.recipient_id
		WHERE n.test <> r.test`).Scan(&crossed))
	require.Zero(t, crossed)
}

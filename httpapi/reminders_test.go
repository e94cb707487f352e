package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/jobs"
)

func TestRemindersHandler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	client, err := jobs.NewInsertClient(pool, nil)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO recipients (ref, benefits, postal_code) SELECT 'R' || g, '{RSA}', CASE WHEN g = 1 THEN '97110' ELSE '75011' END FROM generate_series(1, 5) g`)
	require.NoError(t, err)
	h := RemindersHandler(pool, client, &campaigns.Config{ApprovalThreshold: 2}, nil)
	key := Key{ID: 7, Name: "console", Operator: "Marie Curie", Scopes: []string{"staff"}}

	post := func(body string) (int, map[string]any) {
		req := httptest.NewRequest(http.MethodPost, "/v1/reminders", strings.NewReader(body)).WithContext(WithKey(ctx, key))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), rec.Body.String())
		return rec.Code, out
	}
	errOf := func(out map[string]any) (code, field string) {
		e, _ := out["error"].(map[string]any)
		code, _ = e["code"].(string)
		field, _ = e["field"].(string)
		return code, field
	}
	doc := `"data": {"documents": ["un justificatif de domicile"], "due_date": "2027-05-01"}`

	// One beneficiary: a notice at once; a replay is harmless.
	status, out := post(`{"template": "reminder_missing_document", "recipient_ref": "R2", ` + doc + `, "reason": "dossier incomplet"}`)
	require.Equal(t, http.StatusCreated, status, out)
	id := out["notice_id"]
	require.NotNil(t, id)
	status, out = post(`{"template": "reminder_missing_document", "recipient_ref": "R2", ` + doc + `, "reason": "dossier incomplet"}`)
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, id, out["notice_id"])
	var createdBy string
	require.NoError(t, pool.QueryRow(ctx, `SELECT created_by FROM notices WHERE id = $1`, int64(id.(float64))).Scan(&createdBy))
	require.Equal(t, "key:7/Marie Curie", createdBy)
	var jobsN int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'deliver'`).Scan(&jobsN))
	require.Equal(t, 1, jobsN)

	// Bad input names the field.
	for _, tc := range []struct {
		body, code, field string
		status            int
	}{
		{`{"template": "general_information", "recipient_ref": "R2", "data": {}, "reason": "x"}`, "invalid", "template", 400},
		{`{"template": "reminder_missing_document", "recipient_ref": "R2", "data": {"due_date": "2027-05-01"}, "reason": "x"}`, "invalid", "data", 400},
		{`{"template": "reminder_missing_document", "recipient_ref": "NOPE", ` + doc + `, "reason": "x"}`, "not_found", "recipient_ref", 404},
		{`{"template": "reminder_missing_document", ` + doc + `, "reason": "x"}`, "invalid", "recipient_ref", 400},
		{`{"template": "reminder_missing_document", "recipient_ref": "R2", ` + doc + `}`, "invalid", "reason", 400},
		{`{"template": "reminder_missing_document", "audience": {"regions": ["atlantis"]}, ` + doc + `, "reason": "x"}`, "invalid", "audience.regions[0]", 400},
		{`{"template": "reminder_missing_document", "audience": {"benfits": ["RSA"]}, ` + doc + `, "reason": "x"}`, "invalid", "audience", 400},
		{`{"template": "reminder_missing_document", "recipent_ref": "R2"}`, "invalid", "recipent_ref", 400},
	} {
		status, out := post(tc.body)
		require.Equal(t, tc.status, status, tc.body)
		code, field := errOf(out)
		require.Equal(t, tc.code, code, tc.body)
		require.Equal(t, tc.field, field, tc.body)
	}

	// A small audience: a reminder campaign, started at once.
	status, out = post(`{"template": "reminder_missing_document", "audience": {"regions": ["guadeloupe"]}, ` + doc + `, "reason": "campagne locale"}`)
	require.Equal(t, http.StatusCreated, status, out)
	camp := out["campaign"].(map[string]any)
	require.Equal(t, "running", camp["state"])
	require.EqualValues(t, 1, camp["audience_estimate"])
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'fanout'`).Scan(&jobsN))
	require.Equal(t, 1, jobsN)

	// Above the threshold: waits for approval by someone else.
	status, out = post(`{"template": "reminder_missing_document", "audience": {"benefits": ["RSA"]}, ` + doc + `, "reason": "campagne nationale"}`)
	require.Equal(t, http.StatusAccepted, status, out)
	require.Equal(t, true, out["needs_approval"])
	// The approver is told the real audience, not 0 (issue 16).
	require.EqualValues(t, 5, out["campaign"].(map[string]any)["audience_estimate"])
	cid := int64(out["campaign"].(map[string]any)["id"].(float64))
	_, err = campaigns.Approve(ctx, pool, cid, "Marie Curie")
	require.ErrorContains(t, err, "four-eyes", "the same operator, through the CLI, cannot approve")
	_, err = campaigns.Approve(ctx, pool, cid, "Pierre Curie")
	require.NoError(t, err)
}

// Issue 16: one-off reminders could not be scheduled for later.
func TestRemindersSendAt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	client, err := jobs.NewInsertClient(pool, nil)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO recipients (ref, benefits, postal_code) SELECT 'R' || g, '{RSA}', '75011' FROM generate_series(1, 3) g`)
	require.NoError(t, err)
	h := RemindersHandler(pool, client, &campaigns.Config{ApprovalThreshold: 100}, nil)
	key := Key{ID: 7, Name: "console", Operator: "Marie Curie", Scopes: []string{"staff"}}
	post := func(body string) (int, map[string]any) {
		req := httptest.NewRequest(http.MethodPost, "/v1/reminders", strings.NewReader(body)).WithContext(WithKey(ctx, key))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), rec.Body.String())
		return rec.Code, out
	}
	at := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	data := `"data": {"title": "Rendez-vous", "message": "Mardi à 10 h."}, "reason": "rendez-vous"`

	status, out := post(`{"template": "reminder_generic", "recipient_ref": "R1", ` + data + `, "send_at": "` + at.Format(time.RFC3339) + `"}`)
	require.Equal(t, http.StatusCreated, status, out)
	require.Equal(t, at.Format(time.RFC3339), out["send_at"])
	var scheduled time.Time
	var state string
	require.NoError(t, pool.QueryRow(ctx, `SELECT scheduled_at, state FROM river_job WHERE kind = 'deliver'`).Scan(&scheduled, &state))
	require.True(t, scheduled.Equal(at), "deliver job scheduled at %s, want %s", scheduled, at)
	require.Equal(t, "scheduled", state)

	// An audience: the reminder campaign starts at send_at.
	status, out = post(`{"template": "reminder_generic", "audience": {"benefits": ["RSA"]}, ` + data + `, "send_at": "` + at.Format(time.RFC3339) + `"}`)
	require.Equal(t, http.StatusCreated, status, out)
	c := out["campaign"].(map[string]any)
	require.Equal(t, "scheduled", c["state"])
	require.NoError(t, pool.QueryRow(ctx, `SELECT scheduled_at FROM river_job WHERE kind = 'fanout'`).Scan(&scheduled))
	require.True(t, scheduled.Equal(at))

	// A time in the past or not a time names the field.
	for _, bad := range []string{`"2020-01-01T10:00:00Z"`, `"mardi"`} {
		status, out = post(`{"template": "reminder_generic", "recipient_ref": "R2", ` + data + `, "send_at": ` + bad + `}`)
		require.Equal(t, http.StatusBadRequest, status, out)
		require.Equal(t, "send_at", out["error"].(map[string]any)["field"], out)
	}
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM notices`).Scan(&n))
	require.Equal(t, 1, n, "nothing written for bad input")
}

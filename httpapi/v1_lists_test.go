package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSearchRecipientsEndpoint(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	b.recipient(t, "1234567")
	b.recipient(t, "7654321")

	status, out := b.doJSON(t, "GET", "/v1/recipients?q="+url.QueryEscape("LÉA dupre"), "staff", "")
	require.Equal(t, http.StatusOK, status, out)
	items := out["items"].([]any)
	require.Len(t, items, 2)
	require.Equal(t, "7654321", items[0].(map[string]any)["ref"], "newest first")

	status, out = b.doJSON(t, "GET", "/v1/recipients?q=dupre&limit=1", "audit", "")
	require.Equal(t, http.StatusOK, status, out)
	require.Len(t, out["items"], 1)
	cursor := out["next_cursor"].(string)
	status, out = b.doJSON(t, "GET", "/v1/recipients?q=dupre&limit=1&cursor="+cursor, "audit", "")
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, "1234567", out["items"].([]any)[0].(map[string]any)["ref"])
	require.NotContains(t, out, "next_cursor")

	status, body := b.do(t, "GET", "/v1/recipients?q=dupre", "ingest", "")
	require.Equal(t, http.StatusForbidden, status, body)
	status, body = b.do(t, "GET", "/v1/recipients?q=dupre", "", "")
	require.Equal(t, http.StatusUnauthorized, status, body)
	status, out = b.doJSON(t, "GET", "/v1/recipients", "staff", "")
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "q", out["error"].(map[string]any)["field"])
	status, out = b.doJSON(t, "GET", "/v1/recipients?q=x", "staff", "")
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "q", out["error"].(map[string]any)["field"])
}

func TestListNoticesEndpoint(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	ctx := context.Background()
	b.recipient(t, "1234567")
	b.recipient(t, "7654321")
	_, err := b.pool.Exec(ctx, `
		INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, state, created_at)
		SELECT r.id, 'reminder_generic', 'reminder_generic', r.ref || '-' || g, CASE WHEN g = 1 THEN 'delivered' ELSE 'failed' END,
		       '2027-03-01T12:00:00Z'::timestamptz + g * interval '1 day'
		FROM recipients r, generate_series(1, 3) g`)
	require.NoError(t, err)

	status, out := b.doJSON(t, "GET", "/v1/notices?recipient=1234567&state=failed&since=2027-03-04", "staff", "")
	require.Equal(t, http.StatusOK, status, out)
	items := out["items"].([]any)
	require.Len(t, items, 1)
	require.Equal(t, "1234567-3", items[0].(map[string]any)["idempotency_key"])

	status, out = b.doJSON(t, "GET", "/v1/notices?kind=reminder_generic&limit=4", "audit", "")
	require.Equal(t, http.StatusOK, status, out)
	require.Len(t, out["items"], 4)
	status, out = b.doJSON(t, "GET", "/v1/notices?kind=reminder_generic&limit=4&cursor="+out["next_cursor"].(string), "audit", "")
	require.Equal(t, http.StatusOK, status, out)
	require.Len(t, out["items"], 2)

	for q, field := range map[string]string{
		"state=lost": "state", "kind=nope": "kind", "since=yesterday": "since", "campaign=x": "campaign", "cursor=zz": "cursor",
	} {
		status, out = b.doJSON(t, "GET", "/v1/notices?"+q, "staff", "")
		require.Equal(t, http.StatusBadRequest, status, q)
		require.Equal(t, field, out["error"].(map[string]any)["field"], q)
	}
	status, _ = b.doJSON(t, "GET", "/v1/notices?recipient=0000000", "staff", "")
	require.Equal(t, http.StatusNotFound, status)
	status, _ = b.do(t, "GET", "/v1/notices", "ingest", "")
	require.Equal(t, http.StatusForbidden, status)
}

func TestCampaignsEndpoints(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	ctx := context.Background()
	b.recipient(t, "1234567")
	var id int64
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO campaigns (name, kind, notice_kind, template_key, created_by, state, audience_estimate)
		VALUES ('Rappel DTR', 'reminder', 'reminder', 'reminder', 'key:1', 'running', 2) RETURNING id`).Scan(&id))
	_, err := b.pool.Exec(ctx, `INSERT INTO campaign_events (campaign_id, event, actor) VALUES ($1, 'created', 'key:1')`, id)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, state, campaign_id)
		SELECT id, 'reminder', 'reminder', 'c1', 'delivered', $1 FROM recipients`, id)
	require.NoError(t, err)

	status, out := b.doJSON(t, "GET", "/v1/campaigns?state=running", "staff", "")
	require.Equal(t, http.StatusOK, status, out)
	items := out["items"].([]any)
	require.Len(t, items, 1)
	item := items[0].(map[string]any)
	require.Equal(t, "Rappel DTR", item["campaign"].(map[string]any)["name"])
	require.EqualValues(t, 1, item["progress"].(map[string]any)["delivered"])
	require.EqualValues(t, 50, item["percent"])

	status, out = b.doJSON(t, "GET", fmt.Sprintf("/v1/campaigns/%d", id), "audit", "")
	require.Equal(t, http.StatusOK, status, out)
	require.EqualValues(t, 1, out["progress"].(map[string]any)["notices_created"])
	require.Len(t, out["events"], 1)
	require.NotEmpty(t, out["series"])

	status, _ = b.doJSON(t, "GET", "/v1/campaigns/999999", "staff", "")
	require.Equal(t, http.StatusNotFound, status)
	status, _ = b.doJSON(t, "GET", "/v1/campaigns?state=lost", "staff", "")
	require.Equal(t, http.StatusBadRequest, status)
	status, _ = b.do(t, "GET", "/v1/campaigns", "ingest", "")
	require.Equal(t, http.StatusForbidden, status)
}

func TestListRequestsEndpoint(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	ctx := context.Background()
	b.recipient(t, "1234567")
	_, err := b.pool.Exec(ctx, `
		INSERT INTO requests (external_id, recipient_id, kind, received_at, ack_due_by, answer_due_by, state)
		SELECT v.ext, r.id, v.kind, $1::timestamptz - interval '3 days', $1::timestamptz + v.ack, $1::timestamptz + v.ans, v.state
		FROM recipients r, (VALUES
		    ('late', 'benefit_claim', interval '-1 hour', interval '10 days', 'received'),
		    ('later', 'complaint', interval '-2 days', interval '12 days', 'acknowledged'),
		    ('soon', 'benefit_claim', interval '-2 days', interval '1 day', 'acknowledged')) v(ext, kind, ack, ans, state)`, b.now)
	require.NoError(t, err)

	status, out := b.doJSON(t, "GET", "/v1/requests", "staff", "")
	require.Equal(t, http.StatusOK, status, out)
	var got []string
	for _, it := range out["items"].([]any) {
		m := it.(map[string]any)
		got = append(got, m["request_id"].(string)+":"+m["urgency"].(string))
		require.Equal(t, "1234567", m["recipient_ref"])
	}
	require.Equal(t, []string{"late:breached", "soon:at_risk", "later:open"}, got)

	status, out = b.doJSON(t, "GET", "/v1/requests?state=acknowledged&due_before="+url.QueryEscape(b.now.AddDate(0, 0, 5).Format("2006-01-02T15:04:05Z07:00")), "audit", "")
	require.Equal(t, http.StatusOK, status, out)
	require.Len(t, out["items"], 1)

	status, out = b.doJSON(t, "GET", "/v1/requests?limit=2", "staff", "")
	require.Equal(t, http.StatusOK, status, out)
	status, out = b.doJSON(t, "GET", "/v1/requests?limit=2&cursor="+out["next_cursor"].(string), "staff", "")
	require.Equal(t, http.StatusOK, status, out)
	require.Len(t, out["items"], 1)

	for q, field := range map[string]string{"state=lost": "state", "due_before=soon": "due_before", "cursor=bad": "cursor", "limit=0": "limit"} {
		status, out = b.doJSON(t, "GET", "/v1/requests?"+q, "staff", "")
		require.Equal(t, http.StatusBadRequest, status, q)
		require.Equal(t, field, out["error"].(map[string]any)["field"], q)
	}
	status, _ = b.do(t, "GET", "/v1/requests", "ingest", "")
	require.Equal(t, http.StatusForbidden, status)
}

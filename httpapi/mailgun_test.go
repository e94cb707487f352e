package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/jobs"
)

const mailgunKey = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0" // the shape of a Mailgun webhook signing key

// mailgunBody is a webhook body as Mailgun documents it, signed as the
// documentation says: hex HMAC-SHA256 of timestamp + token under the
// webhook signing key.
func mailgunBody(ts time.Time, token, event, severity, messageID string, code int, message string) string {
	timestamp := strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, []byte(mailgunKey))
	m.Write([]byte(timestamp + token))
	return fmt.Sprintf(`{
  "signature": {"timestamp": %q, "token": %q, "signature": %q},
  "event-data": {
    "event": %q, "severity": %q, "reason": "bounce", "id": "G9Bn5sl1TC6nu79C8C0bwg",
    "timestamp": %d.375624, "recipient": "alice@example.com",
    "delivery-status": {"code": %d, "message": %q, "description": "", "attempt-no": 1},
    "message": {"headers": {"message-id": %q, "to": "Alice <alice@example.com>", "from": "Caf <ne-pas-repondre@caf.example>"}}
  }
}`, timestamp, token, hex.EncodeToString(m.Sum(nil)), event, severity, ts.Unix(), code, message, messageID)
}

func TestMailgunWebhook(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	now := time.Now()
	var rid, nid, did, nid2, did2 int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO recipients (ref, email) VALUES ('R1', 'alice@example.com') RETURNING id`).Scan(&rid))
	for i, p := range []struct{ nid, did *int64 }{{&nid, &did}, {&nid2, &did2}} {
		require.NoError(t, db.QueryRow(ctx, `
			INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, state, channel)
			VALUES ($1, 'rights_opened', 'rights_opened', $2, 'delivered', 'email') RETURNING id`, rid, fmt.Sprint("k", i)).Scan(p.nid))
		require.NoError(t, db.QueryRow(ctx, `
			INSERT INTO deliveries (notice_id, channel, provider, address, provider_message_id, state, attempt, sent_at, final_at)
			VALUES ($1, 'email', 'smtp', 'alice@example.com', $2, 'delivered', 1, now(), now()) RETURNING id`,
			*p.nid, fmt.Sprintf("<n%d.d%d@caf.example>", *p.nid, i+1)).Scan(p.did))
	}
	var fallbacks []int64
	rec := &jobs.Bounces{Pool: db, Fallback: func(ctx context.Context, tx pgx.Tx, noticeID int64) error {
		fallbacks = append(fallbacks, noticeID)
		return nil
	}}
	h := &MailgunWebhook{SigningKey: []byte(mailgunKey), Record: rec.Record}
	post := func(body string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/webhooks/mailgun", strings.NewReader(body)))
		return w
	}
	state := func(id int64) string {
		var s string
		require.NoError(t, db.QueryRow(ctx, `SELECT state FROM deliveries WHERE id = $1`, id).Scan(&s))
		return s
	}
	mid := fmt.Sprintf("n%d.d1@caf.example", nid)
	hard := mailgunBody(now, "a8ce0edb2dd8301dce9c5d1b24b2d1e5ef4ec5f4b3f6dc88cc", "failed", "permanent", mid, 550,
		"5.1.1 The email account that you tried to reach does not exist")

	// Forged and stale signatures: 403, nothing recorded.
	forged := strings.Replace(hard, `"token": "a8ce`, `"token": "b8ce`, 1)
	require.Equal(t, http.StatusForbidden, post(forged).Code)
	stale := mailgunBody(now.Add(-time.Hour), "tok-stale", "failed", "permanent", mid, 550, "5.1.1 unknown")
	require.Equal(t, http.StatusForbidden, post(stale).Code)
	require.Equal(t, "delivered", state(did))

	// A permanent failure: bounced, address undeliverable, one fallback.
	w := post(hard)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), "recorded")
	require.Equal(t, "bounced", state(did))
	var status string
	require.NoError(t, db.QueryRow(ctx, `SELECT email_status FROM recipients WHERE id = $1`, rid).Scan(&status))
	require.Equal(t, "undeliverable", status)
	require.Equal(t, []int64{nid}, fallbacks)
	// Mailgun retries the webhook: nothing more.
	require.Equal(t, http.StatusOK, post(hard).Code)
	require.Equal(t, []int64{nid}, fallbacks)
	var bounced int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM delivery_events WHERE delivery_id = $1 AND event = 'bounced'`, did).Scan(&bounced))
	require.Equal(t, 1, bounced)

	// A temporary failure is Mailgun still retrying: ignored.
	mid2 := fmt.Sprintf("<n%d.d2@caf.example>", nid2)
	w = post(mailgunBody(now, "tok-temp", "failed", "temporary", mid2, 452, "4.2.2 mailbox full"))
	require.Contains(t, w.Body.String(), "ignored")
	require.Equal(t, "delivered", state(did2))
	// A complaint.
	w = post(mailgunBody(now, "tok-complaint", "complained", "", mid2, 0, ""))
	require.Contains(t, w.Body.String(), "recorded")
	var complained int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM delivery_events WHERE delivery_id = $1 AND event = 'complained'`, did2).Scan(&complained))
	require.Equal(t, 1, complained)

	require.Equal(t, http.StatusBadRequest, post("{not json").Code)
}

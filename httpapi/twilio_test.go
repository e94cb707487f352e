package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go/client"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/internal/pgtest"
)

const (
	testAuthToken = "0123456789abcdef0123456789abcdef"
	testPublicURL = "https://courrier.example.fr"
)

// twilioSign computes X-Twilio-Signature: base64(HMAC-SHA1(token, url +
// sorted key/value pairs)).
func twilioSign(t *testing.T, fullURL string, form url.Values) string {
	t.Helper()
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	params := map[string]string{}
	for _, k := range keys {
		b.WriteString(k + form.Get(k))
		params[k] = form.Get(k)
	}
	m := hmac.New(sha1.New, []byte(testAuthToken))
	m.Write([]byte(b.String()))
	sig := base64.StdEncoding.EncodeToString(m.Sum(nil))
	v := client.NewRequestValidator(testAuthToken)
	require.True(t, v.Validate(fullURL, params, sig), "twilio-go agrees with the test signature")
	return sig
}

type webhookBundle struct {
	db       *pgxpool.Pool
	h        *TwilioWebhooks
	recipA   int64
	noticeID int64
	delivery int64

	mu            sync.Mutex
	finalFailures []int64
}

func setupWebhooks(t *testing.T, sid string) *webhookBundle {
	t.Helper()
	db := pgtest.New(t)
	ctx := context.Background()
	b := &webhookBundle{db: db}
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO recipients (ref, phone) VALUES ('R1', '+33612345678') RETURNING id`).Scan(&b.recipA))
	require.NoError(t, db.QueryRow(ctx, `
		INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, state)
		VALUES ($1, 'reminder', 'reminder', 'k1', 'sending') RETURNING id`, b.recipA).Scan(&b.noticeID))
	require.NoError(t, db.QueryRow(ctx, `
		INSERT INTO deliveries (notice_id, channel, provider, address, provider_message_id, state, attempt, sending_at)
		VALUES ($1, 'sms', 'twilio', '+33612345678', nullif($2, ''), 'sending', 1, now()) RETURNING id`,
		b.noticeID, sid).Scan(&b.delivery))
	b.h = &TwilioWebhooks{
		DB: db, AuthToken: testAuthToken, PublicBaseURL: testPublicURL + "/",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnFinalFailure: func(ctx context.Context, tx pgx.Tx, noticeID int64) error {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.finalFailures = append(b.finalFailures, noticeID)
			return nil
		},
	}
	return b
}

// post sends a form to handler at path; sign is "valid", "invalid" or "none".
func post(t *testing.T, handler http.HandlerFunc, path string, form url.Values, sign string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	switch sign {
	case "valid":
		req.Header.Set("X-Twilio-Signature", twilioSign(t, testPublicURL+path, form))
	case "invalid":
		req.Header.Set("X-Twilio-Signature", base64.StdEncoding.EncodeToString([]byte("not the signature of this")))
	}
	rec := httptest.NewRecorder()
	handler(rec, req)
	return rec
}

func statusForm(sid, status, errorCode string) url.Values {
	f := url.Values{
		"AccountSid": {"AC0123456789abcdef0123456789abcdef"}, "MessageSid": {sid}, "SmsSid": {sid},
		"MessageStatus": {status}, "SmsStatus": {status}, "To": {"+33612345678"}, "From": {"CAF"},
		"ApiVersion": {"2010-04-01"},
	}
	if errorCode != "" {
		f.Set("ErrorCode", errorCode)
	}
	return f
}

func (b *webhookBundle) state(t *testing.T) (state, sid string, events int) {
	t.Helper()
	require.NoError(t, b.db.QueryRow(context.Background(), `
		SELECT state, coalesce(provider_message_id, ''), (SELECT count(*) FROM delivery_events WHERE delivery_id = d.id)
		FROM deliveries d WHERE id = $1`, b.delivery).Scan(&state, &sid, &events))
	return
}

func TestTwilioStatusRecorded(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t, "SM1")
	path := "/webhooks/twilio/status?delivery=" + itoa(b.delivery)
	for _, s := range []string{"queued", "sent", "delivered"} {
		rec := post(t, b.h.Status, path, statusForm("SM1", s, ""), "valid")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	}
	state, _, events := b.state(t)
	require.Equal(t, "delivered", state)
	require.Equal(t, 3, events)
	var noticeState, channel string
	require.NoError(t, b.db.QueryRow(context.Background(), `SELECT state, channel FROM notices WHERE id = $1`, b.noticeID).Scan(&noticeState, &channel))
	require.Equal(t, "delivered", noticeState)
	require.Equal(t, "sms", channel)
}

func TestTwilioStatusOutOfOrder(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t, "SM1")
	path := "/webhooks/twilio/status?delivery=" + itoa(b.delivery)
	for _, s := range []string{"delivered", "sent", "queued"} {
		rec := post(t, b.h.Status, path, statusForm("SM1", s, ""), "valid")
		require.Equal(t, http.StatusOK, rec.Code)
	}
	state, _, events := b.state(t)
	require.Equal(t, "delivered", state)
	require.Equal(t, 3, events)
}

func TestTwilioStatusBadSignature(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t, "SM1")
	path := "/webhooks/twilio/status?delivery=" + itoa(b.delivery)
	for _, sign := range []string{"invalid", "none"} {
		rec := post(t, b.h.Status, path, statusForm("SM1", "delivered", ""), sign)
		require.Equal(t, http.StatusForbidden, rec.Code, sign)
	}
	// Signed for another URL (the delivery id changed in transit).
	form := statusForm("SM1", "delivered", "")
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twilioSign(t, testPublicURL+"/webhooks/twilio/status?delivery=424242", form))
	rec := httptest.NewRecorder()
	b.h.Status(rec, req)
	require.Equal(t, http.StatusForbidden, rec.Code)

	state, _, events := b.state(t)
	require.Equal(t, "sending", state)
	require.Zero(t, events, "nothing recorded")
}

func TestTwilioStatusUnknownSID(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t, "SM1")
	rec := post(t, b.h.Status, "/webhooks/twilio/status", statusForm("SMnobody", "delivered", ""), "valid")
	require.Equal(t, http.StatusOK, rec.Code)
	rec = post(t, b.h.Status, "/webhooks/twilio/status?delivery=999999", statusForm("SMnobody", "delivered", ""), "valid")
	require.Equal(t, http.StatusOK, rec.Code)
	_, _, events := b.state(t)
	require.Zero(t, events)
}

func TestTwilioStatusBeforeSIDCommitted(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t, "") // the worker has not stored the SID yet
	path := "/webhooks/twilio/status?delivery=" + itoa(b.delivery)
	rec := post(t, b.h.Status, path, statusForm("SM7", "sent", ""), "valid")
	require.Equal(t, http.StatusOK, rec.Code)
	state, sid, events := b.state(t)
	require.Equal(t, "sent", state)
	require.Equal(t, "SM7", sid, "the SID is stored from the callback")
	require.Equal(t, 1, events)
}

func TestTwilioStatusFinalFailureCallsBack(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t, "SM1")
	rec := post(t, b.h.Status, "/webhooks/twilio/status", statusForm("SM1", "undelivered", "30003"), "valid")
	require.Equal(t, http.StatusOK, rec.Code)
	state, _, _ := b.state(t)
	require.Equal(t, "undelivered", state)
	var code string
	require.NoError(t, b.db.QueryRow(context.Background(), `SELECT error_code FROM delivery_events WHERE delivery_id = $1`, b.delivery).Scan(&code))
	require.Equal(t, "30003", code)
	require.Equal(t, []int64{b.noticeID}, b.finalFailures)

	// A callback error rolls the receipt back, and Twilio retries.
	b2 := setupWebhooks(t, "SM2")
	b2.h.OnFinalFailure = func(context.Context, pgx.Tx, int64) error { return context.DeadlineExceeded }
	rec = post(t, b2.h.Status, "/webhooks/twilio/status", statusForm("SM2", "failed", "30008"), "valid")
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	state, _, events := b2.state(t)
	require.Equal(t, "sending", state)
	require.Zero(t, events)
}

func TestTwilioInboundStopStart(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t, "SM1")
	ctx := context.Background()
	var other int64
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO recipients (ref, phone) VALUES ('R2', '+33700000001') RETURNING id`).Scan(&other))

	consent := func(id int64) bool {
		var c bool
		require.NoError(t, b.db.QueryRow(ctx, `SELECT consent_sms FROM recipients WHERE id = $1`, id).Scan(&c))
		return c
	}
	events := func() []string {
		rows, err := b.db.Query(ctx, `SELECT event || ':' || source FROM recipient_events WHERE recipient_id = $1 ORDER BY id`, b.recipA)
		require.NoError(t, err)
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return out
	}
	inbound := func(body string) *httptest.ResponseRecorder {
		form := url.Values{"MessageSid": {"SMin"}, "From": {"+33612345678"}, "To": {"CAF"}, "Body": {body}}
		return post(t, b.h.Inbound, "/webhooks/twilio/inbound", form, "valid")
	}

	rec := inbound("  stop ")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "text/xml; charset=utf-8", rec.Header().Get("Content-Type"))
	require.Equal(t, emptyTwiML, rec.Body.String())
	require.False(t, consent(b.recipA))
	require.True(t, consent(other))

	rec = inbound("START")
	require.Equal(t, http.StatusOK, rec.Code)
	require.True(t, consent(b.recipA))

	for _, body := range []string{"ARRET", "Arrêt", "stop sms", "ARRÊT."} {
		inbound(body)
		require.False(t, consent(b.recipA), body)
		inbound("start")
		require.True(t, consent(b.recipA))
	}
	inbound("Merci pour l'information")
	require.True(t, consent(b.recipA))
	require.Len(t, events(), 10)
	require.Equal(t, "sms_consent_withdrawn:twilio_inbound", events()[0])
	require.Equal(t, "sms_consent_restored:twilio_inbound", events()[1])

	// Unsigned STOP: refused, nothing changes.
	form := url.Values{"MessageSid": {"SMin"}, "From": {"+33612345678"}, "Body": {"STOP"}}
	rec = post(t, b.h.Inbound, "/webhooks/twilio/inbound", form, "invalid")
	require.Equal(t, http.StatusForbidden, rec.Code)
	require.True(t, consent(b.recipA))
	require.Len(t, events(), 10)
}

func TestInboundKeyword(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		"STOP": "stop", "stop": "stop", " Stop\n": "stop", "ARRET": "stop", "arrêt": "stop", "STOP  SMS": "stop",
		"Stop sms": "stop", "STOP!": "stop", "START": "start", "start.": "start",
		// French typography: a space (often no-break) before "!".
		"Arrêt !": "stop", "ARRÊT !": "stop", "Arrêt\u00a0!": "stop", "arrêt\u202f!": "stop", "« STOP »": "stop",
		"Stop.": "stop", "STOP SMS !": "stop", "Désabonner": "stop", "unsubscribe!": "stop", "Start !": "start",
		"ARRET DE": "",
		"":         "", "STOP les SMS svp": "", "Bonjour": "", "STARTER": "",
	} {
		require.Equal(t, want, InboundKeyword(body), body)
	}
}

func TestUnsubscribe(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	var id int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO recipients (ref, email) VALUES ('R1', 'r@example.fr') RETURNING id`).Scan(&id))
	secret := []byte("unsubscribe-secret")
	now := time.Date(2025, time.March, 1, 10, 0, 0, 0, time.UTC)
	u := &Unsubscribe{DB: db, Secret: secret, Now: func() time.Time { return now }}
	mux := http.NewServeMux()
	mux.Handle("GET /unsubscribe/{token}", u)
	mux.Handle("POST /unsubscribe/{token}", u)
	token := channels.SignUnsubscribe(secret, id, "general_information", now.Add(30*24*time.Hour))

	optedOut := func() bool {
		var v bool
		require.NoError(t, db.QueryRow(ctx, `SELECT outreach_opt_out FROM recipients WHERE id = $1`, id).Scan(&v))
		return v
	}
	do := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}

	rec := do(http.MethodGet, "/unsubscribe/"+token, "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), `<html lang="fr">`)
	require.Contains(t, rec.Body.String(), `<form method="post">`)
	require.Contains(t, rec.Body.String(), `name="List-Unsubscribe" value="One-Click"`)
	require.False(t, optedOut(), "GET changes nothing (link scanners)")

	rec = do(http.MethodPost, "/unsubscribe/"+token, "")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.False(t, optedOut())

	rec = do(http.MethodPost, "/unsubscribe/"+token, "List-Unsubscribe=One-Click")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "Désabonnement enregistré")
	// Say what really happens: general mailings keep coming, by post.
	require.Contains(t, rec.Body.String(), "elles vous parviendront donc par courrier postal")
	require.NotContains(t, rec.Body.String(), "vous ne recevrez plus les informations générales")
	require.True(t, optedOut())
	var source string
	require.NoError(t, db.QueryRow(ctx, `SELECT source FROM recipient_events WHERE recipient_id = $1 AND event = 'unsubscribed'`, id).Scan(&source))
	require.Equal(t, "unsubscribe_link:general_information", source)

	rec = do(http.MethodPost, "/unsubscribe/"+token, "List-Unsubscribe=One-Click")
	require.Equal(t, http.StatusOK, rec.Code, "repeating is harmless")

	rec = do(http.MethodGet, "/unsubscribe/"+token+"x", "")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	expired := channels.SignUnsubscribe(secret, id, "general_information", now.Add(-time.Hour))
	rec = do(http.MethodPost, "/unsubscribe/"+expired, "List-Unsubscribe=One-Click")
	require.Equal(t, http.StatusGone, rec.Code)
	require.Contains(t, rec.Body.String(), "Lien expiré")

	unknown := channels.SignUnsubscribe(secret, 999999, "general_information", now.Add(time.Hour))
	rec = do(http.MethodPost, "/unsubscribe/"+unknown, "List-Unsubscribe=One-Click")
	require.Equal(t, http.StatusNotFound, rec.Code)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A validly signed callback replayed (by Twilio retrying, or by anyone who
// captured it) appends nothing to the ledger.
func TestTwilioStatusReplayAppendsNothing(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t, "SM1")
	path := "/webhooks/twilio/status?delivery=" + itoa(b.delivery)
	rec := post(t, b.h.Status, path, statusForm("SM1", "delivered", ""), "valid")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	_, _, events := b.state(t)
	for range 3 {
		rec := post(t, b.h.Status, path, statusForm("SM1", "delivered", ""), "valid")
		require.Equal(t, http.StatusOK, rec.Code, "Twilio must not retry it")
	}
	state, _, after := b.state(t)
	require.Equal(t, "delivered", state)
	require.Equal(t, events, after)
	// A new status of the same message is still recorded.
	rec = post(t, b.h.Status, path, statusForm("SM1", "read", ""), "valid")
	require.Equal(t, http.StatusOK, rec.Code)
	_, _, after = b.state(t)
	require.Equal(t, events+1, after)
}

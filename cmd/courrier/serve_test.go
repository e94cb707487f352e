package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/bench"
	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/templates"
)

// TestServeEndToEnd wires courrier as `serve` does, with real providers
// (an SMTP server and a Twilio-shaped API on loopback), and follows an
// upstream system's calls through to delivery receipts.
func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	smtpSink, err := bench.StartSMTPSink()
	require.NoError(t, err)
	smtpSink.KeepLast = true
	defer smtpSink.Close()
	twilio, err := bench.StartTwilioSink()
	require.NoError(t, err)
	defer twilio.Close()

	// The public URL is what Twilio and mail clients see (https, behind a
	// proxy); the test talks to the server directly.
	srv := httptest.NewUnstartedServer(nil)
	public := "https://courrier.example.fr"
	const token = "testtoken0123456789"
	vars := map[string]string{
		"SMTP_URL": smtpSink.URL(), "SMTP_FROM": "Caf de Paris <ne-pas-repondre@caf.example.fr>",
		"TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef", "TWILIO_AUTH_TOKEN": token, "TWILIO_FROM": "CAF",
		"TWILIO_API_URL": twilio.URL, "COURRIER_PUBLIC_URL": public, "COURRIER_OUTBOX": t.TempDir(),
		"COURRIER_UNSUBSCRIBE_SECRET": "0123456789abcdef0123456789abcdef",
	}
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return vars[k] },
		Pool: pgtest.New(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	pool := env.Pool
	rt, err := env.newRuntime(ctx, pool, env.Logger, runtimeOpts{noQuietHours: true})
	require.NoError(t, err)
	defer rt.Close()
	app, err := env.newApp(ctx, pool, rt)
	require.NoError(t, err)
	require.NoError(t, app.client.Start(ctx))
	defer func() {
		stopCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		_ = app.client.Stop(stopCtx)
	}()
	srv.Config.Handler = app.http
	srv.Start()
	defer srv.Close()

	key, _, err := jobs.CreateAPIKey(ctx, pool, jobs.NewAPIKey{Name: "upstream", Operator: "Marie Curie", Scopes: []string{"ingest", "staff", "audit"}})
	require.NoError(t, err)
	call := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, srv.URL+path, r)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	noticeState := func(id any) (string, string) {
		status, out := call("GET", fmt.Sprintf("/v1/notices/%v", id), nil)
		require.Equal(t, http.StatusOK, status)
		n := out["notice"].(map[string]any)
		ch, _ := n["channel"].(string)
		return n["state"].(string), ch
	}
	waitState := func(id any, want string) string {
		t.Helper()
		var state, ch string
		require.Eventually(t, func() bool { state, ch = noticeState(id); return state == want }, 20*time.Second, 50*time.Millisecond,
			"notice %v stayed %s", id, state)
		return ch
	}

	// A beneficiary with an email: the rights notice goes by email over SMTP.
	status, _ := call("PUT", "/v1/recipients/1234567", map[string]any{
		"civility": "Mme", "given_name": "Léa", "family_name": "Dupré", "email": "lea.dupre@exemple.fr",
		"phone": "06 12 34 56 78", "address_line1": "3 rue des Lilas", "postal_code": "75011", "city": "Paris",
	})
	require.Contains(t, []int{200, 201}, status)
	status, out := call("POST", "/v1/events/rights", map[string]any{
		"event_id": "evt-1", "recipient_ref": "1234567", "event": "opened", "benefit": "AF", "amount": 141.99, "effective_on": "2027-04-01",
	})
	require.Equal(t, http.StatusCreated, status, "%v", out)
	require.Equal(t, "email", waitState(out["notice_id"], "delivered"))
	require.EqualValues(t, 1, smtpSink.Accepted())

	// An online request: its acknowledgement is due within 5 days and delivered.
	status, out = call("POST", "/v1/requests", map[string]any{
		"request_id": "REQ-1", "recipient_ref": "1234567", "kind": "benefit_claim", "received_at": time.Now().Format(time.RFC3339), "channel": "online",
	})
	require.Equal(t, http.StatusCreated, status, "%v", out)

	// A reminder goes by SMS first: accepted by Twilio, then a signed status
	// callback proves the delivery.
	status, out = call("POST", "/v1/reminders", map[string]any{
		"template": "reminder_missing_document", "recipient_ref": "1234567", "reason": "pièce manquante",
		"data": map[string]any{"documents": []string{"avis d'imposition 2026"}, "due_date": "2027-05-15"},
	})
	require.Equal(t, http.StatusCreated, status, "%v", out)
	noticeID := out["notice_id"]
	waitState(noticeID, "sent")
	require.EqualValues(t, 1, twilio.Accepted())
	_, detail := call("GET", fmt.Sprintf("/v1/notices/%v", noticeID), nil)
	dl := detail["deliveries"].([]any)[0].(map[string]any)
	require.Equal(t, "sms", dl["channel"])
	sid := dl["provider_message_id"].(string)

	form := url.Values{"MessageSid": {sid}, "MessageStatus": {"delivered"}, "AccountSid": {vars["TWILIO_ACCOUNT_SID"]}}
	cbPath := fmt.Sprintf("/webhooks/twilio/status?delivery=%v", dl["id"])
	cbURL := public + cbPath
	post := func(sig string) int {
		req, _ := http.NewRequest("POST", srv.URL+cbPath, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	require.Equal(t, http.StatusForbidden, post("forged"))
	require.Equal(t, http.StatusOK, post(twilioSignature(token, cbURL, form)))
	require.Equal(t, "sms", waitState(noticeID, "delivered"))

	// A general mailing carries a one-click unsubscribe link (RFC 8058);
	// using it opts the beneficiary out of electronic mailings.
	client, err := jobs.NewInsertClient(pool, nil)
	require.NoError(t, err)
	var rid int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT id FROM recipients WHERE ref = '1234567'`).Scan(&rid))
	var gid int64
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		gid, _, err = jobs.EnqueueNotice(ctx, tx, client, notices.New{RecipientID: rid, Kind: notices.GeneralInformation,
			IdempotencyKey: "general-1", Data: templates.SampleData("general_information")}, nil)
		return err
	}))
	require.Equal(t, "email", waitState(gid, "delivered"))
	msg, err := mail.ReadMessage(bytes.NewReader(smtpSink.Last()))
	require.NoError(t, err)
	require.Equal(t, "List-Unsubscribe=One-Click", msg.Header.Get("List-Unsubscribe-Post"))
	link := strings.Trim(msg.Header.Get("List-Unsubscribe"), "<>")
	require.True(t, strings.HasPrefix(link, public+"/unsubscribe/"), link)
	res, err := http.Post(srv.URL+strings.TrimPrefix(link, public), "application/x-www-form-urlencoded",
		strings.NewReader("List-Unsubscribe=One-Click"))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var optedOut bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT outreach_opt_out FROM recipients WHERE id = $1`, rid).Scan(&optedOut))
	require.True(t, optedOut)

	// Operators and auditors see it: metrics need an admin key.
	res, err = http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	admin, _, err := jobs.CreateAPIKey(ctx, pool, jobs.NewAPIKey{Name: "prometheus", Operator: "Ops", Scopes: []string{"admin"}})
	require.NoError(t, err)
	req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Contains(t, string(metrics), `courrier_messages_accepted_total{channel="email",provider="smtp"} 3`)
	today := time.Now().Format("2006-01-02")
	status, out = call("GET", "/v1/compliance/acknowledgement?from="+today+"&to="+today, nil)
	require.Equal(t, http.StatusOK, status, "%v", out)

	// The River UI is behind an admin key.
	res, err = http.Get(srv.URL + "/riverui/")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.Contains(t, res.Header.Get("WWW-Authenticate"), "Basic")
	req, _ = http.NewRequest("GET", srv.URL+"/riverui/", nil)
	req.SetBasicAuth("ops", admin)
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	req.SetBasicAuth("ops", key) // a key without the admin scope
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusForbidden, res.StatusCode)
}

// twilioSignature computes X-Twilio-Signature as Twilio documents it:
// base64(HMAC-SHA1(token, URL + each POST parameter name and value, sorted)).
func twilioSignature(token, u string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(u)
	for _, k := range keys {
		b.WriteString(k + form.Get(k))
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

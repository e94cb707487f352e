package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/templates"
	"github.com/courrier-dev/courrier/territories"
)

// realChannel stands for a real provider: test notices must never reach it.
type realChannel struct{ calls atomic.Int32 }

func (c *realChannel) Send(ctx context.Context, msg channels.Message) (channels.Receipt, error) {
	n := c.calls.Add(1)
	return channels.Receipt{Provider: "real", MessageID: fmt.Sprintf("r%d", n), Delivered: true, Evidence: "test"}, nil
}

type apiBundle struct {
	pool    *pgxpool.Pool
	api     *API
	handler http.Handler
	now     time.Time
	keys    map[string]string // ingest, staff, audit, admin, test → secret
	keyIDs  map[string]int64
	deps    *jobs.Deps
	outbox  *channels.Outbox
	real    *realChannel
	tpl     *templates.Set
}

func setupAPI(t *testing.T, mutate func(a *API)) *apiBundle {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.New(t)
	client, err := jobs.NewInsertClient(pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	b := &apiBundle{pool: pool, now: time.Date(2027, 3, 12, 18, 0, 0, 0, territories.Paris()),
		keys: map[string]string{}, keyIDs: map[string]int64{}}
	b.api = &API{DB: pool, River: client, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return b.now }}
	if mutate != nil {
		mutate(b.api)
	}
	s := NewServer(pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.api.Register(s)
	b.handler = s
	for name, spec := range map[string]struct {
		scopes   []string
		operator string
		test     bool
	}{
		"ingest": {[]string{ScopeIngest}, "", false},
		"staff":  {[]string{ScopeStaff}, "Marie Curie", false},
		"audit":  {[]string{ScopeAudit}, "", false},
		"admin":  {[]string{ScopeAdmin}, "", false},
		"test":   {[]string{ScopeIngest, ScopeAudit}, "", true},
	} {
		secret, k, err := jobs.CreateAPIKey(ctx, pool, jobs.NewAPIKey{Name: name, Operator: spec.operator, Scopes: spec.scopes, Test: spec.test})
		require.NoError(t, err)
		b.keys[name], b.keyIDs[name] = secret, k.ID
	}
	b.tpl, err = templates.Load(nil)
	require.NoError(t, err)
	b.outbox, err = channels.NewOutbox(t.TempDir(), "")
	require.NoError(t, err)
	b.real = &realChannel{}
	b.deps = &jobs.Deps{Pool: pool, Templates: b.tpl, Outbox: b.outbox, Routes: channels.DefaultRoutes(),
		Channels: map[channels.Name]channels.Channel{channels.Email: b.real, channels.SMS: b.real, channels.Letter: b.real},
		Now:      func() time.Time { return b.now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return b
}

// do sends a request with key (a name in b.keys, a raw header value when it
// contains a space, or "" for none) and returns the status and body.
func (b *apiBundle) do(t *testing.T, method, path, key, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	switch {
	case key == "":
	case strings.Contains(key, " "):
		req.Header.Set("Authorization", key)
	default:
		secret, ok := b.keys[key]
		if !ok {
			secret = key
		}
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// doJSON is do decoding a JSON response.
func (b *apiBundle) doJSON(t *testing.T, method, path, key, body string) (int, map[string]any) {
	t.Helper()
	status, raw := b.do(t, method, path, key, body)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &out), raw)
	return status, out
}

func (b *apiBundle) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

func (b *apiBundle) jobs(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), "SELECT count(*) FROM river_job WHERE kind = 'deliver'").Scan(&n))
	return n
}

// written counts every row an intake write may create.
func (b *apiBundle) written(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"recipients", "notices", "rights_events", "life_events", "requests", "deliveries"} {
		out[table] = b.count(t, table)
	}
	out["jobs"] = b.jobs(t)
	return out
}

func (b *apiBundle) recipient(t *testing.T, ref string) {
	t.Helper()
	status, body := b.do(t, "PUT", "/v1/recipients/"+ref, "ingest", `{"civility":"Mme","given_name":"Léa","family_name":"Dupré",
		"email":"lea.dupre@exemple.fr","phone":"06 12 34 56 78","address_line1":"3 rue des Lilas","postal_code":"75011","city":"Paris","benefits":["AF"]}`)
	require.Equal(t, http.StatusCreated, status, body)
}

// work runs the deliver job of a notice, as River would on its first attempt.
func (b *apiBundle) work(t *testing.T, noticeID int64) {
	t.Helper()
	w := &jobs.DeliverWorker{Deps: b.deps}
	job := &river.Job[jobs.DeliverArgs]{JobRow: &rivertype.JobRow{Attempt: 1, MaxAttempts: 12}, Args: jobs.DeliverArgs{NoticeID: noticeID}}
	require.NoError(t, w.Work(context.Background(), job))
}

func requireError(t *testing.T, status int, body string, wantStatus int, want string) {
	t.Helper()
	require.Equal(t, wantStatus, status, body)
	require.JSONEq(t, want, body)
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	b.recipient(t, "1000001")
	ctx := context.Background()
	revokedSecret, revoked, err := jobs.CreateAPIKey(ctx, b.pool, jobs.NewAPIKey{Name: "old", Scopes: []string{ScopeIngest}})
	require.NoError(t, err)
	require.NoError(t, jobs.RevokeAPIKey(ctx, b.pool, revoked.ID))
	before := b.written(t)
	event := `{"event_id":"E1","recipient_ref":"1000001","event":"opened","benefit":"APL","amount":245.3,"effective_on":"2027-04-01"}`

	status, body := b.do(t, "POST", "/v1/events/rights", "", event)
	requireError(t, status, body, 401, `{"error":{"code":"unauthorized","message":"an API key is required: send Authorization: Bearer <key>"}}`)
	status, body = b.do(t, "POST", "/v1/events/rights", "Basic dXNlcjpwYXNz", event)
	requireError(t, status, body, 401, `{"error":{"code":"unauthorized","message":"the Authorization header must be: Bearer <key>"}}`)
	status, body = b.do(t, "POST", "/v1/events/rights", "ck_live_notakey", event)
	requireError(t, status, body, 401, `{"error":{"code":"unauthorized","message":"invalid API key"}}`)
	status, body = b.do(t, "POST", "/v1/events/rights", revokedSecret, event)
	requireError(t, status, body, 401, `{"error":{"code":"unauthorized","message":"this API key was revoked"}}`)
	status, body = b.do(t, "POST", "/v1/events/rights", "audit", event)
	requireError(t, status, body, 403, `{"error":{"code":"forbidden","message":"this API key lacks the \"ingest\" scope"}}`)
	status, body = b.do(t, "PUT", "/v1/recipients/1000001", "audit", `{}`)
	requireError(t, status, body, 403, `{"error":{"code":"forbidden","message":"this API key lacks the \"ingest\" or \"staff\" scope"}}`)
	status, body = b.do(t, "GET", "/v1/recipients/1000001", "ingest", "")
	requireError(t, status, body, 403, `{"error":{"code":"forbidden","message":"this API key lacks the \"staff\" or \"audit\" scope"}}`)
	require.Equal(t, before, b.written(t), "nothing written")

	// The right scope passes and records the key; the staff key its operator.
	status, body = b.do(t, "POST", "/v1/events/rights", "ingest", event)
	require.Equal(t, 201, status, body)
	var createdBy string
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT created_by FROM notices").Scan(&createdBy))
	require.Equal(t, "key:"+itoa(b.keyIDs["ingest"]), createdBy)
	status, body = b.do(t, "PUT", "/v1/recipients/1000002", "staff", `{"given_name":"Jean"}`)
	require.Equal(t, 201, status, body)
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT updated_by FROM recipients WHERE ref = '1000002'").Scan(&createdBy))
	require.Equal(t, "key:"+itoa(b.keyIDs["staff"])+"/Marie Curie", createdBy)

	var lastUsed *time.Time
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT last_used_at FROM api_keys WHERE id = $1", b.keyIDs["ingest"]).Scan(&lastUsed))
	require.NotNil(t, lastUsed)
}

func TestTestKeyNoticesGoToOutboxOnly(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	b.recipient(t, "1000001")
	// The test key's own beneficiary with the same number (see TestTestKeysAreSandboxed).
	status, body := b.do(t, "PUT", "/v1/recipients/1000001", "test", `{"given_name":"Test","email":"test@exemple.fr","address_line1":"1 rue","postal_code":"75011","city":"Paris"}`)
	require.Equal(t, 201, status, body)
	status, out := b.doJSON(t, "POST", "/v1/events/rights", "test",
		`{"event_id":"E-test","recipient_ref":"1000001","event":"opened","benefit":"APL","amount":245.3,"effective_on":"2027-04-01"}`)
	require.Equal(t, 201, status)
	require.Equal(t, true, out["test"])
	id := int64(out["notice_id"].(float64))
	n, err := notices.Get(context.Background(), b.pool, id)
	require.NoError(t, err)
	require.True(t, n.Test)

	b.work(t, id)
	n, err = notices.Get(context.Background(), b.pool, id)
	require.NoError(t, err)
	require.Equal(t, notices.StateDelivered, n.State)
	require.Zero(t, b.real.calls.Load(), "a test notice never reaches a real provider")
	files, err := filepath.Glob(filepath.Join(b.outbox.Dir, "email", "*"))
	require.NoError(t, err)
	require.Len(t, files, 1)

	// A live key's notice goes to the real channel.
	status, out = b.doJSON(t, "POST", "/v1/events/rights", "ingest",
		`{"event_id":"E-live","recipient_ref":"1000001","event":"opened","benefit":"APL","amount":245.3,"effective_on":"2027-04-01"}`)
	require.Equal(t, 201, status)
	require.Equal(t, false, out["test"])
	b.work(t, int64(out["notice_id"].(float64)))
	require.EqualValues(t, 1, b.real.calls.Load())
}

func TestPutRecipient(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	body := `{"civility":"Madame","given_name":"Zoé","family_name":"Roux","email":"zoe@Exemple.FR","phone":"0690 12 34 56",
		"address_line1":"1 rue Schœlcher","postal_code":"97100","city":"Basse-Terre","benefits":["rsa","PA"],"consent_sms":false}`
	status, out := b.doJSON(t, "PUT", "/v1/recipients/1000005", "ingest", body)
	require.Equal(t, 201, status)
	require.Equal(t, "inserted", out["outcome"])
	require.Equal(t, "Mme", out["civility"])
	require.Equal(t, "zoe@exemple.fr", out["email"])
	require.Equal(t, "+590690123456", out["phone"])
	require.Equal(t, []any{"RSA", "PA"}, out["benefits"])
	require.Equal(t, false, out["consent_sms"])
	require.Equal(t, true, out["consent_email"])

	status, out = b.doJSON(t, "PUT", "/v1/recipients/1000005", "ingest", body)
	require.Equal(t, 200, status)
	require.Equal(t, "unchanged", out["outcome"])
	status, out = b.doJSON(t, "PUT", "/v1/recipients/1000005", "staff", strings.Replace(body, `"consent_sms":false`, `"consent_email":false`, 1))
	require.Equal(t, 200, status)
	require.Equal(t, "updated", out["outcome"])
	require.Equal(t, false, out["consent_sms"], "an absent consent keeps its value")
	require.Equal(t, false, out["consent_email"])

	before := b.written(t)
	for name, tc := range map[string]struct {
		path, body string
		status     int
		want       string
	}{
		"malformed":     {"/v1/recipients/1000006", `{"given_name": "A"`, 400, `{"error":{"code":"invalid","message":"malformed JSON: unexpected end of body"}}`},
		"syntax":        {"/v1/recipients/1000006", `{"given_name": A}`, 400, `{"error":{"code":"invalid","message":"malformed JSON at byte 16: invalid character 'A' looking for beginning of value"}}`},
		"unknown field": {"/v1/recipients/1000006", `{"given_name":"A","shoe_size":42}`, 400, `{"error":{"code":"invalid","field":"shoe_size","message":"unknown field"}}`},
		"wrong type":    {"/v1/recipients/1000006", `{"consent_sms":"oui"}`, 400, `{"error":{"code":"invalid","field":"consent_sms","message":"must be true or false, not string"}}`},
		"trailing":      {"/v1/recipients/1000006", `{} {}`, 400, `{"error":{"code":"invalid","message":"malformed JSON: data after the object"}}`},
		"empty":         {"/v1/recipients/1000006", ``, 400, `{"error":{"code":"invalid","message":"request body is empty: a JSON object is expected"}}`},
		"bad phone":     {"/v1/recipients/1000006", `{"phone":"01 23"}`, 400, `{"error":{"code":"invalid","field":"phone","message":"is not a valid phone number for region FR"}}`},
		"bad email":     {"/v1/recipients/1000006", `{"email":"lea@@exemple.fr"}`, 400, `{"error":{"code":"invalid","field":"email","message":"is not a valid email address"}}`},
		"bad civility":  {"/v1/recipients/1000006", `{"civility":"Dr"}`, 400, `{"error":{"code":"invalid","field":"civility","message":"must be \"M.\", \"Mme\" or empty"}}`},
		"bad postcode":  {"/v1/recipients/1000006", `{"address_line1":"1 rue","postal_code":"750","city":"Paris"}`, 400, `{"error":{"code":"invalid","field":"postal_code","message":"must be 5 digits"}}`},
		"bad benefit":   {"/v1/recipients/1000006", `{"benefits":["A F"]}`, 400, `{"error":{"code":"invalid","field":"benefits","message":"must be benefit codes such as AF, APL or RSA"}}`},
		"bad ref":       {"/v1/recipients/10%2F01", `{}`, 400, `{"error":{"code":"invalid","field":"ref","message":"must be 1 to 32 letters, digits, - or _"}}`},
		"oversize":      {"/v1/recipients/1000006", `{"given_name":"` + strings.Repeat("a", DefaultMaxBodyBytes) + `"}`, 413, `{"error":{"code":"too_large","message":"request body is larger than 1048576 bytes"}}`},
	} {
		status, raw := b.do(t, "PUT", tc.path, "ingest", tc.body)
		require.Equal(t, tc.status, status, name+": "+raw)
		require.JSONEq(t, tc.want, raw, name)
	}
	require.Equal(t, before, b.written(t), "nothing written")
}

func TestGetRecipientWithHistoryPages(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	b.recipient(t, "1000001")
	for _, id := range []string{"E1", "E2", "E3"} {
		status, body := b.do(t, "POST", "/v1/events/rights", "ingest",
			`{"event_id":"`+id+`","recipient_ref":"1000001","event":"opened","benefit":"AF","amount":140,"effective_on":"2027-04-01"}`)
		require.Equal(t, 201, status, body)
	}
	_, err := recipients.WithdrawSMSConsentByPhone(context.Background(), b.pool, "+33612345678", "twilio_inbound")
	require.NoError(t, err)

	status, out := b.doJSON(t, "GET", "/v1/recipients/1000001?limit=2", "audit", "")
	require.Equal(t, 200, status)
	require.Equal(t, "Léa", out["recipient"].(map[string]any)["given_name"])
	cons := out["consents"].(map[string]any)
	require.Equal(t, false, cons["sms"])
	require.Equal(t, "sms_consent_withdrawn", cons["history"].([]any)[0].(map[string]any)["event"])
	page1 := out["notices"].([]any)
	require.Len(t, page1, 2)
	require.NotEmpty(t, out["next_cursor"])
	status, out = b.doJSON(t, "GET", "/v1/recipients/1000001?limit=2&cursor="+out["next_cursor"].(string), "staff", "")
	require.Equal(t, 200, status)
	page2 := out["notices"].([]any)
	require.Len(t, page2, 1)
	require.Empty(t, out["next_cursor"])
	ids := map[float64]bool{}
	for _, n := range append(page1, page2...) {
		ids[n.(map[string]any)["id"].(float64)] = true
	}
	require.Len(t, ids, 3)

	status, body := b.do(t, "GET", "/v1/recipients/9999999", "audit", "")
	requireError(t, status, body, 404, `{"error":{"code":"not_found","field":"ref","message":"no beneficiary has this number"}}`)
	status, body = b.do(t, "GET", "/v1/recipients/1000001?cursor=zzz", "audit", "")
	requireError(t, status, body, 400, `{"error":{"code":"invalid","field":"cursor","message":"is not a cursor returned by this API"}}`)
	status, body = b.do(t, "GET", "/v1/recipients/1000001?limit=1000", "audit", "")
	requireError(t, status, body, 400, `{"error":{"code":"invalid","field":"limit","message":"must be a whole number from 1 to 200"}}`)
}

func TestImportEndpoint(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, func(a *API) { a.MaxImportBytes = 4096 })
	csv := "\ufeffnumero_allocataire;prenom;nom;telephone;code_postal\n1000001;Léa;Dupré;06 12 34 56 78;75011\n1000002;Jean;Martin;01 23;75011\n1000003;Paul;Durand;;\n"
	// A dry run: per-row errors, nothing written.
	status, out := b.doJSON(t, "POST", "/v1/recipients:import?dry_run=true", "ingest", csv)
	require.Equal(t, 200, status, out)
	require.EqualValues(t, 2, out["valid"])
	require.EqualValues(t, 1, out["rejected"])
	require.Equal(t, true, out["dry_run"])
	require.Zero(t, b.count(t, "recipients"))
	status, _ = b.doJSON(t, "POST", "/v1/recipients:import?dry_run=maybe", "ingest", csv)
	require.Equal(t, 400, status)

	status, out = b.doJSON(t, "POST", "/v1/recipients:import", "ingest", csv)
	require.Equal(t, 200, status)
	require.EqualValues(t, 2, out["inserted"])
	require.EqualValues(t, 1, out["rejected"])
	require.Equal(t, []any{map[string]any{"line": 3.0, "field": "phone", "reason": "is not a valid phone number for region FR"}}, out["rejections"])
	status, out = b.doJSON(t, "POST", "/v1/recipients:import", "staff", csv)
	require.Equal(t, 200, status)
	require.EqualValues(t, 2, out["unchanged"])
	require.EqualValues(t, 0, out["inserted"])

	before := b.written(t)
	status, body := b.do(t, "POST", "/v1/recipients:import", "ingest", "numero_allocataire;nom\n"+strings.Repeat("1000009;Martin\n", 400))
	requireError(t, status, body, 413, `{"error":{"code":"too_large","message":"request body is larger than 4096 bytes"}}`)
	status, body = b.do(t, "POST", "/v1/recipients:import", "ingest", "numero;nom\n1;A\n")
	requireError(t, status, body, 400, `{"error":{"code":"invalid","field":"numero","message":"is not a known column (see the import format)"}}`)
	status, body = b.do(t, "POST", "/v1/recipients:import", "audit", csv)
	require.Equal(t, 403, status, body)
	require.Equal(t, before, b.written(t))
}

func TestRightsEvents(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	b.recipient(t, "1000001")
	ctx := context.Background()
	opened := `{"event_id":"CRIS-1","recipient_ref":"1000001","event":"opened","benefit":"APL","amount":245.3,"effective_on":"2027-04-01"}`
	status, out := b.doJSON(t, "POST", "/v1/events/rights", "ingest", opened)
	require.Equal(t, 201, status)
	require.Equal(t, true, out["created"])
	noticeID := out["notice_id"].(float64)

	// Replay: the same notice, nothing new.
	before := b.written(t)
	status, out = b.doJSON(t, "POST", "/v1/events/rights", "ingest", opened)
	require.Equal(t, 200, status)
	require.Equal(t, false, out["created"])
	require.Equal(t, noticeID, out["notice_id"])
	require.Equal(t, before, b.written(t))
	require.Equal(t, 1, before["notices"])
	require.Equal(t, 1, before["jobs"])

	n, err := notices.Get(ctx, b.pool, int64(noticeID))
	require.NoError(t, err)
	require.Equal(t, notices.RightsOpened, n.Kind)
	require.Equal(t, "Aide personnalisée au logement", n.Data["benefit"])
	require.Equal(t, "245.30", n.Data["amount"])
	b.requireRenders(t, n)

	// A change takes the old amount from the history; an end needs none.
	status, out = b.doJSON(t, "POST", "/v1/events/rights", "ingest",
		`{"event_id":"CRIS-2","recipient_ref":"1000001","event":"changed","benefit":"APL","amount":200,"effective_on":"2027-06-01","reason":"vos ressources ont changé"}`)
	require.Equal(t, 201, status)
	n, _ = notices.Get(ctx, b.pool, int64(out["notice_id"].(float64)))
	require.Equal(t, notices.RightsChanged, n.Kind)
	require.Equal(t, "245.30", n.Data["old_amount"])
	require.Equal(t, "200.00", n.Data["new_amount"])
	b.requireRenders(t, n)
	for _, ev := range []string{"ended", "refused"} {
		status, out = b.doJSON(t, "POST", "/v1/events/rights", "ingest",
			`{"event_id":"CRIS-`+ev+`","recipient_ref":"1000001","event":"`+ev+`","benefit":"RSA","effective_on":"2027-06-30"}`)
		require.Equal(t, 201, status)
		n, _ = notices.Get(ctx, b.pool, int64(out["notice_id"].(float64)))
		require.Equal(t, notices.NoRights, n.Kind)
		require.Equal(t, ev == "ended", n.Data["ended"])
		b.requireRenders(t, n)
	}

	before = b.written(t)
	for name, tc := range map[string]struct {
		body   string
		status int
		want   string
	}{
		"conflict":        {strings.Replace(opened, "245.3", "245.4", 1), 409, `{"error":{"code":"conflict","message":"event \"CRIS-1\" was already received with different content"}}`},
		"unknown ref":     {strings.Replace(opened, "1000001", "9999999", 1), 404, `{"error":{"code":"not_found","field":"recipient_ref","message":"no beneficiary has this number: create it with PUT /v1/recipients/{ref} first"}}`},
		"bad event":       {strings.Replace(opened, `"opened"`, `"paused"`, 1), 400, `{"error":{"code":"invalid","field":"event","message":"must be opened, changed, ended or refused"}}`},
		"no amount":       {`{"event_id":"X","recipient_ref":"1000001","event":"opened","benefit":"APL","effective_on":"2027-04-01"}`, 400, `{"error":{"code":"invalid","field":"amount","message":"is required when rights are opened"}}`},
		"bad amount":      {strings.Replace(opened, "245.3", "245.333", 1), 400, `{"error":{"code":"invalid","field":"amount","message":"must be an amount of euros with at most two decimals"}}`},
		"amount string":   {strings.Replace(opened, "245.3", `"245,30"`, 1), 400, `{"error":{"code":"invalid","field":"amount","message":"must be a number, not string"}}`},
		"bad date":        {strings.Replace(opened, "2027-04-01", "01/04/2027", 1), 400, `{"error":{"code":"invalid","field":"effective_on","message":"must be a date YYYY-MM-DD"}}`},
		"no previous":     {`{"event_id":"X","recipient_ref":"1000001","event":"changed","benefit":"AF","amount":10,"effective_on":"2027-04-01"}`, 400, `{"error":{"code":"invalid","field":"previous_amount","message":"is required: no earlier amount of this benefit is known"}}`},
		"no event id":     {strings.Replace(opened, `"event_id":"CRIS-1",`, "", 1), 400, `{"error":{"code":"invalid","field":"event_id","message":"is required"}}`},
		"unknown field":   {strings.Replace(opened, `"event_id"`, `"evt":1,"event_id"`, 1), 400, `{"error":{"code":"invalid","field":"evt","message":"unknown field"}}`},
		"malformed":       {`{"event_id":`, 400, `{"error":{"code":"invalid","message":"malformed JSON: unexpected end of body"}}`},
		"oversize":        {`{"reason":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`, 413, `{"error":{"code":"too_large","message":"request body is larger than 1048576 bytes"}}`},
		"not an object":   {`[1,2]`, 400, `{"error":{"code":"invalid","message":"a JSON object is expected, not array"}}`},
		"no recipient":    {strings.Replace(opened, `"recipient_ref":"1000001",`, "", 1), 400, `{"error":{"code":"invalid","field":"recipient_ref","message":"is required"}}`},
		"negative amount": {strings.Replace(opened, "245.3", "-1", 1), 400, `{"error":{"code":"invalid","field":"amount","message":"must not be negative"}}`},
	} {
		status, raw := b.do(t, "POST", "/v1/events/rights", "ingest", tc.body)
		require.Equal(t, tc.status, status, name+": "+raw)
		require.JSONEq(t, tc.want, raw, name)
	}
	require.Equal(t, before, b.written(t), "nothing written")
}

// requireRenders checks that a notice's data renders on every channel of
// the default templates.
func (b *apiBundle) requireRenders(t *testing.T, n *notices.Notice) {
	t.Helper()
	for _, ch := range templates.Channels {
		if !b.tpl.Has(n.TemplateKey, ch) {
			continue
		}
		_, err := b.tpl.Render(n.TemplateKey, ch, templates.Input{Recipient: templates.SampleRecipient(), Data: n.Data})
		require.NoError(t, err, "%s on %s", n.TemplateKey, ch)
	}
}

func TestLifeEvents(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	b.recipient(t, "1000001")
	body := `{"event_id":"LE-1","recipient_ref":"1000001","kind":"first_birth","occurred_on":"2027-03-01"}`
	status, out := b.doJSON(t, "POST", "/v1/events/life", "ingest", body)
	require.Equal(t, 201, status)
	require.Equal(t, true, out["created"])
	before := b.written(t)
	require.Equal(t, 1, before["life_events"])
	require.Zero(t, before["notices"], "outreach is the campaigns' work")
	status, out = b.doJSON(t, "POST", "/v1/events/life", "ingest", body)
	require.Equal(t, 200, status)
	require.Equal(t, false, out["created"])

	for name, tc := range map[string]struct {
		body   string
		status int
		want   string
	}{
		"conflict":    {strings.Replace(body, "first_birth", "separation", 1), 409, `{"error":{"code":"conflict","message":"event \"LE-1\" was already received with different content"}}`},
		"bad kind":    {strings.Replace(body, "first_birth", "wedding", 1), 400, `{"error":{"code":"invalid","field":"kind","message":"must be first_birth, separation, child_death or parent_death"}}`},
		"future":      {strings.Replace(body, "2027-03-01", "2028-03-01", 1), 400, `{"error":{"code":"invalid","field":"occurred_on","message":"is in the future"}}`},
		"unknown ref": {strings.Replace(body, "1000001", "42", 1), 404, `{"error":{"code":"not_found","field":"recipient_ref","message":"no beneficiary has this number: create it with PUT /v1/recipients/{ref} first"}}`},
		"unknown":     {strings.Replace(body, `"kind"`, `"type":"x","kind"`, 1), 400, `{"error":{"code":"invalid","field":"type","message":"unknown field"}}`},
		"malformed":   {`{`, 400, `{"error":{"code":"invalid","message":"malformed JSON: unexpected end of body"}}`},
		"oversize":    {`{"kind":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`, 413, `{"error":{"code":"too_large","message":"request body is larger than 1048576 bytes"}}`},
	} {
		status, raw := b.do(t, "POST", "/v1/events/life", "ingest", tc.body)
		require.Equal(t, tc.status, status, name+": "+raw)
		require.JSONEq(t, tc.want, raw, name)
	}
	require.Equal(t, before, b.written(t), "nothing written")
}

func TestRequestAcknowledgedAndAnswered(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	b.recipient(t, "1000001")
	ctx := context.Background()
	// Received on Friday 12 March 2027 at 18:00, Paris time.
	body := `{"request_id":"DEM-2027-1","recipient_ref":"1000001","kind":"benefit_claim","minimum_income":true,"received_at":"2027-03-12T18:00:00+01:00","channel":"online"}`
	status, out := b.doJSON(t, "POST", "/v1/requests", "ingest", body)
	require.Equal(t, 201, status)
	require.Equal(t, "received", out["state"])
	require.Equal(t, "2027-03-17T18:00:00+01:00", out["ack_due_by"], "Wednesday 18:00")
	require.Equal(t, "2027-03-22T18:00:00+01:00", out["answer_due_by"], "10 days: minimum income")
	ackID := int64(out["ack_notice_id"].(float64))
	ack, err := notices.Get(ctx, b.pool, ackID)
	require.NoError(t, err)
	require.Equal(t, notices.RequestAcknowledgement, ack.Kind)
	require.True(t, ack.DueBy.Equal(time.Date(2027, 3, 17, 18, 0, 0, 0, territories.Paris())))
	b.requireRenders(t, ack)

	// Replay and conflict.
	before := b.written(t)
	status, out = b.doJSON(t, "POST", "/v1/requests", "ingest", body)
	require.Equal(t, 200, status)
	require.Equal(t, float64(ackID), out["ack_notice_id"])
	status, raw := b.do(t, "POST", "/v1/requests", "ingest", strings.Replace(body, `"minimum_income":true`, `"minimum_income":false`, 1))
	requireError(t, status, raw, 409, `{"error":{"code":"conflict","message":"request \"DEM-2027-1\" was already received with different content"}}`)
	require.Equal(t, before, b.written(t))

	// The acknowledgement is delivered when worked: the request is acknowledged.
	b.work(t, ackID)
	status, out = b.doJSON(t, "GET", "/v1/requests/DEM-2027-1", "audit", "")
	require.Equal(t, 200, status)
	require.Equal(t, "acknowledged", out["state"])
	require.Equal(t, "1000001", out["recipient_ref"])

	// Answered by staff, closed when the answer is delivered.
	status, out = b.doJSON(t, "POST", "/v1/requests/DEM-2027-1/answer", "staff", `{"answer":"Votre demande est acceptée.\n\nPremier paiement en avril."}`)
	require.Equal(t, 201, status)
	require.Equal(t, "answered", out["state"])
	require.Equal(t, "key:"+itoa(b.keyIDs["staff"])+"/Marie Curie", out["answered_by"])
	answerID := int64(out["answer_notice_id"].(float64))
	answer, _ := notices.Get(ctx, b.pool, answerID)
	require.Equal(t, notices.RequestAnswer, answer.Kind)
	b.requireRenders(t, answer)
	status, out = b.doJSON(t, "POST", "/v1/requests/DEM-2027-1/answer", "staff", `{"answer":"Votre demande est acceptée.\n\nPremier paiement en avril."}`)
	require.Equal(t, 200, status)
	require.Equal(t, float64(answerID), out["answer_notice_id"])
	status, raw = b.do(t, "POST", "/v1/requests/DEM-2027-1/answer", "staff", `{"answer":"Autre réponse."}`)
	requireError(t, status, raw, 409, `{"error":{"code":"conflict","message":"request \"DEM-2027-1\" was already answered differently"}}`)

	b.work(t, answerID)
	status, out = b.doJSON(t, "GET", "/v1/requests/DEM-2027-1", "ingest", "")
	require.Equal(t, 200, status)
	require.Equal(t, "closed", out["state"])
	require.NotEmpty(t, out["closed_at"])
	require.Equal(t, []any{}, out["breaches"])

	// Bad inputs write nothing.
	before = b.written(t)
	for name, tc := range map[string]struct {
		method, path, key, body string
		status                  int
		want                    string
	}{
		"bad kind":      {"POST", "/v1/requests", "ingest", strings.Replace(body, "benefit_claim", "wish", 1), 400, `{"error":{"code":"invalid","field":"kind","message":"\"wish\" is not one of [benefit_claim change_of_situation social_aid document complaint other]"}}`},
		"bad time":      {"POST", "/v1/requests", "ingest", strings.Replace(body, "2027-03-12T18:00:00+01:00", "2027-03-12 18:00", 1), 400, `{"error":{"code":"invalid","field":"received_at","message":"must be an RFC 3339 time with its offset, e.g. 2027-03-12T18:00:00+01:00"}}`},
		"future":        {"POST", "/v1/requests", "ingest", strings.Replace(strings.Replace(body, "DEM-2027-1", "DEM-F", 1), "2027-03-12T18", "2027-03-13T18", 1), 400, `{"error":{"code":"invalid","field":"received_at","message":"is in the future"}}`},
		"bad channel":   {"POST", "/v1/requests", "ingest", strings.Replace(strings.Replace(body, "DEM-2027-1", "DEM-C", 1), `"online"`, `"fax"`, 1), 400, `{"error":{"code":"invalid","field":"channel","message":"\"fax\" is not one of [online post counter phone]"}}`},
		"unknown ref":   {"POST", "/v1/requests", "ingest", strings.Replace(body, "1000001", "7", 1), 404, `{"error":{"code":"not_found","field":"recipient_ref","message":"no beneficiary has this number: create it with PUT /v1/recipients/{ref} first"}}`},
		"unknown field": {"POST", "/v1/requests", "ingest", strings.Replace(body, `"kind"`, `"urgent":true,"kind"`, 1), 400, `{"error":{"code":"invalid","field":"urgent","message":"unknown field"}}`},
		"malformed":     {"POST", "/v1/requests", "ingest", `{"request_id":`, 400, `{"error":{"code":"invalid","message":"malformed JSON: unexpected end of body"}}`},
		"oversize":      {"POST", "/v1/requests", "ingest", `{"kind":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`, 413, `{"error":{"code":"too_large","message":"request body is larger than 1048576 bytes"}}`},
		"no answer":     {"POST", "/v1/requests/DEM-2027-1/answer", "staff", `{"answer":"  "}`, 400, `{"error":{"code":"invalid","field":"answer","message":"is required"}}`},
		"answer 404":    {"POST", "/v1/requests/NOPE/answer", "staff", `{"answer":"x"}`, 404, `{"error":{"code":"not_found","field":"id","message":"no request has this id"}}`},
		"answer field":  {"POST", "/v1/requests/DEM-2027-1/answer", "staff", `{"answer":"x","decision":"ok"}`, 400, `{"error":{"code":"invalid","field":"decision","message":"unknown field"}}`},
		"answer scope":  {"POST", "/v1/requests/DEM-2027-1/answer", "audit", `{"answer":"x"}`, 403, `{"error":{"code":"forbidden","message":"this API key lacks the \"ingest\" or \"staff\" scope"}}`},
		"get 404":       {"GET", "/v1/requests/NOPE", "audit", ``, 404, `{"error":{"code":"not_found","field":"id","message":"no request has this id"}}`},
	} {
		status, raw := b.do(t, tc.method, tc.path, tc.key, tc.body)
		require.Equal(t, tc.status, status, name+": "+raw)
		require.JSONEq(t, tc.want, raw, name)
	}
	require.Equal(t, before, b.written(t), "nothing written")
}

func TestComplaintWorkingDaysAcrossHoliday(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, func(a *API) { a.Deadlines.WorkingDays = true })
	b.now = time.Date(2027, 3, 27, 9, 0, 0, 0, territories.Paris())
	b.recipient(t, "1000001")
	// Friday 26 March 2027, 18:00; Easter Monday (29 March) is a holiday.
	status, out := b.doJSON(t, "POST", "/v1/requests", "ingest",
		`{"request_id":"REC-1","recipient_ref":"1000001","kind":"complaint","received_at":"2027-03-26T18:00:00+01:00"}`)
	require.Equal(t, 201, status)
	require.Equal(t, "2027-04-05T18:00:00+02:00", out["ack_due_by"])
	require.Equal(t, "2027-04-19T18:00:00+02:00", out["answer_due_by"], "15 working days")
	status, out = b.doJSON(t, "POST", "/v1/requests/REC-1/answer", "ingest", `{"answer":"Nous avons corrigé votre dossier."}`)
	require.Equal(t, 201, status)
	n, err := notices.Get(context.Background(), b.pool, int64(out["answer_notice_id"].(float64)))
	require.NoError(t, err)
	require.Equal(t, notices.ComplaintAnswer, n.Kind)
	require.Equal(t, "REC-1", n.Data["complaint_ref"])
	b.requireRenders(t, n)
}

func TestGetNotice(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	b.recipient(t, "1000001")
	_, out := b.doJSON(t, "POST", "/v1/events/rights", "ingest",
		`{"event_id":"E1","recipient_ref":"1000001","event":"opened","benefit":"APL","amount":245.3,"effective_on":"2027-04-01"}`)
	id := int64(out["notice_id"].(float64))
	status, out := b.doJSON(t, "GET", "/v1/notices/"+itoa(id), "audit", "")
	require.Equal(t, 200, status)
	require.Equal(t, "pending", out["notice"].(map[string]any)["state"])
	require.Equal(t, []any{}, out["deliveries"])
	b.work(t, id)
	status, out = b.doJSON(t, "GET", "/v1/notices/"+itoa(id), "staff", "")
	require.Equal(t, 200, status)
	require.Equal(t, "delivered", out["notice"].(map[string]any)["state"])
	require.Len(t, out["deliveries"], 1)
	var events []string
	for _, e := range out["events"].([]any) {
		events = append(events, e.(map[string]any)["event"].(string))
	}
	require.Equal(t, []string{"notice_created", "sending", "delivered"}, events)

	status, body := b.do(t, "GET", "/v1/notices/999999", "audit", "")
	requireError(t, status, body, 404, `{"error":{"code":"not_found","field":"id","message":"no notice has this id"}}`)
	status, body = b.do(t, "GET", "/v1/notices/abc", "audit", "")
	requireError(t, status, body, 404, `{"error":{"code":"not_found","field":"id","message":"no notice has this id"}}`)
	status, body = b.do(t, "GET", "/v1/nothing", "audit", "")
	requireError(t, status, body, 404, `{"error":{"code":"not_found","message":"no such endpoint: see /v1/openapi.json"}}`)
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	b := setupAPI(t, nil)
	status, raw := b.do(t, "GET", "/v1/openapi.json", "", "")
	require.Equal(t, 200, status)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	for path, methods := range map[string][]string{
		"/v1/recipients/{ref}":       {"put", "get"},
		"/v1/recipients:import":      {"post"},
		"/v1/events/rights":          {"post"},
		"/v1/events/life":            {"post"},
		"/v1/requests":               {"post", "get"},
		"/v1/requests/{id}":          {"get"},
		"/v1/requests/{id}/answer":   {"post"},
		"/v1/notices/{id}":           {"get"},
		"/v1/letters/returned":       {"post"},
		"/v1/openapi.json":           {"get"},
		"/v1/recipients":             {"get"},
		"/v1/notices":                {"get"},
		"/v1/campaigns":              {"get"},
		"/v1/campaigns/{id}":         {"get"},
		"/v1/campaigns/{id}:approve": {"post"},
		"/v1/campaigns/{id}:start":   {"post"},
		"/v1/campaigns/{id}:pause":   {"post"},
		"/v1/campaigns/{id}:resume":  {"post"},
		"/v1/campaigns/{id}:cancel":  {"post"},
		"/v1/campaigns/{id}:retry":   {"post"},
		"/v1/reminders":              {"post"},
		"/v1/compliance/{rule}":      {"get"},
		"/v1/callback":               {"put", "get", "delete"},
		"/v1/callback/failures":      {"get"},
	} {
		for _, m := range methods {
			require.Contains(t, doc.Paths[path], m, path)
		}
	}
}

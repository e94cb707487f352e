package console

import (
	"github.com/courrier-dev/courrier/ledger"

	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/staff"
	"github.com/courrier-dev/courrier/templates"
)

type bundle struct {
	pool    *pgxpool.Pool
	srv     *httptest.Server
	acct    map[string]*staff.Created
	console *Console
}

func setup(t *testing.T) *bundle { return setupBench(t) }

func setupBench(t testing.TB) *bundle {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.New(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	client, err := jobs.NewInsertClient(pool, logger)
	require.NoError(t, err)
	tpl, err := templates.Load(nil)
	require.NoError(t, err)
	c := &Console{DB: pool, LedgerKey: testLedgerKey(), River: client, Templates: tpl, Logger: logger, InsecureCookies: true,
		Campaigns: &campaigns.Config{Templates: tpl}}
	h, err := c.Handler()
	require.NoError(t, err)
	b := &bundle{pool: pool, srv: httptest.NewServer(h), acct: map[string]*staff.Created{}, console: c}
	t.Cleanup(b.srv.Close)
	for _, role := range staff.Roles {
		cr, err := staff.Create(ctx, pool, staff.NewAccount{Login: string(role) + ".test", DisplayName: "Test " + string(role),
			Role: role, CreatedBy: "test"})
		require.NoError(t, err)
		b.acct[string(role)] = cr
	}
	_, _, err = recipients.Upsert(ctx, pool, &recipients.Recipient{Ref: "1234567", Civility: "Mme", GivenName: "Hélène",
		FamilyName: "Lefèvre", Email: "helene@example.fr", Phone: "+33612345678", PostalCode: "75011", City: "Paris",
		AddressLine1: "3 rue des Lilas", Active: true, ConsentEmail: true, ConsentSMS: true, ConsentLetter: true})
	require.NoError(t, err)
	return b
}

// user is a browser-like HTTP client with its own cookie jar.
type user struct {
	t    *testing.T
	b    *bundle
	c    *http.Client
	csrf string
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *bundle) login(t *testing.T, role string) *user {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u := &user{t: t, b: b, c: &http.Client{Jar: jar}}
	_, body := u.get("/console/login")
	m := csrfRe.FindStringSubmatch(body)
	require.NotNil(t, m, body)
	acct := b.acct[role]
	code, err := staff.Code(acct.TOTPSecret, time.Now())
	require.NoError(t, err)
	status, body := u.post("/console/login", url.Values{"csrf": {m[1]}, "login": {acct.Account.Login},
		"password": {acct.Password}, "code": {code}, "next": {"/console/"}})
	require.Equal(t, http.StatusOK, status, body)
	return u
}

func (u *user) get(path string) (int, string) {
	u.t.Helper()
	res, err := u.c.Get(u.b.srv.URL + path)
	require.NoError(u.t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if m := csrfRe.FindStringSubmatch(string(body)); m != nil {
		u.csrf = m[1]
	}
	return res.StatusCode, string(body)
}

func (u *user) post(path string, form url.Values) (int, string) {
	u.t.Helper()
	res, err := u.c.PostForm(u.b.srv.URL+path, form)
	require.NoError(u.t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if m := csrfRe.FindStringSubmatch(string(body)); m != nil {
		u.csrf = m[1]
	}
	return res.StatusCode, string(body)
}

func (u *user) postFile(path, field, name string, content []byte, extra url.Values) (int, string) {
	u.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range extra {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile(field, name)
	_, _ = fw.Write(content)
	_ = mw.Close()
	res, err := u.c.Post(u.b.srv.URL+path, mw.FormDataContentType(), &buf)
	require.NoError(u.t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func TestLoginAndSessionCookie(t *testing.T) {
	t.Parallel()
	b := setup(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(b.srv.URL + "/console/recipients")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Contains(t, res.Header.Get("Location"), "/console/login?next=")

	u := &user{t: t, b: b, c: c}
	_, body := u.get("/console/login")
	csrf := csrfRe.FindStringSubmatch(body)[1]
	acct := b.acct["agent"]
	code, _ := staff.Code(acct.TOTPSecret, time.Now())
	form := url.Values{"csrf": {csrf}, "login": {acct.Account.Login}, "password": {acct.Password}, "code": {code}}

	bad := url.Values{"csrf": {"forged"}, "login": form["login"], "password": form["password"], "code": form["code"]}
	status, body := u.post("/console/login", bad)
	require.Equal(t, http.StatusForbidden, status, "login CSRF")
	require.Contains(t, body, "CSRF")

	_, body = u.get("/console/login")
	form.Set("csrf", csrfRe.FindStringSubmatch(body)[1])
	res, err = c.PostForm(b.srv.URL+"/console/login", form)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	var session *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == sessionCookie {
			session = ck
		}
	}
	require.NotNil(t, session)
	require.True(t, session.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, session.SameSite)
	require.Equal(t, 8*3600, session.MaxAge)

	// The same code again (a replay) is refused.
	_, body = u.get("/console/login")
	form.Set("csrf", csrfRe.FindStringSubmatch(body)[1])
	status, body = u.post("/console/login", form)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Contains(t, body, "incorrect")
}

func TestConsolePages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	agent := b.login(t, "agent")

	status, body := agent.get("/console/recipients?q=" + url.QueryEscape("helene LEFEV"))
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `href="/console/recipients/1234567"`)
	status, body = agent.get("/console/recipients?q=h")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "au moins 2 caractères")

	status, body = agent.get("/console/recipients/1234567")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Lefèvre")
	require.Contains(t, body, "Aucun avis envoyé")
	status, body = agent.get("/console/recipients/1234567/evidence")
	require.Equal(t, http.StatusConflict, status, "nothing sealed yet: no pack")
	require.Contains(t, body, "pas encore scellé")

	// Send one reminder: preview of every channel, then send; a double
	// submit creates one notice.
	status, body = agent.get("/console/recipients/1234567/send?template=reminder_generic")
	require.Equal(t, http.StatusOK, status, body)
	key := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(body)[1]
	form := url.Values{"csrf": {agent.csrf}, "key": {key}, "template": {"reminder_generic"}, "reason": {"appel du 12/03"}}
	for k, v := range templates.SampleData("reminder_generic") {
		form.Set("f_"+k, fmt.Sprint(v))
	}
	form.Set("action", "preview")
	status, body = agent.post("/console/recipients/1234567/send", form)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Aperçu courriel")
	require.Contains(t, body, "Aperçu SMS")
	require.Contains(t, body, "Aperçu courrier postal")
	form.Set("action", "send")
	for i := 0; i < 2; i++ {
		status, body = agent.post("/console/recipients/1234567/send", form)
		require.Equal(t, http.StatusOK, status, body)
	}
	require.Contains(t, body, "aucun doublon")
	var n int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM notices WHERE created_by = 'staff:agent.test'`).Scan(&n))
	require.Equal(t, 1, n)

	// Once sealed, the beneficiary's evidence pack downloads and holds the
	// notice just sent.
	_, err := ledger.Seal(ctx, b.pool, ledger.SealOptions{Key: b.console.LedgerKey, Settle: time.Nanosecond})
	require.NoError(t, err)
	status, body = agent.get("/console/recipients/1234567/evidence")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"format": "courrier-evidence-pack/2"`)
	require.Contains(t, body, `"reminder_generic"`)

	// Wrong role and missing CSRF are refused, and logged.
	status, body = agent.get("/console/campaigns")
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, body, "Accès refusé")
	form.Set("csrf", "")
	status, _ = agent.post("/console/recipients/1234567/send", form)
	require.Equal(t, http.StatusForbidden, status)
	acts, err := staff.Actions(ctx, b.pool, "agent.test", 50)
	require.NoError(t, err)
	var names []string
	for _, a := range acts {
		names = append(names, a.Action)
	}
	require.Contains(t, names, "csrf_refused")
	require.Contains(t, names, "forbidden")
	require.Contains(t, names, "send_reminder")
	require.Contains(t, names, "view_recipient")

	status, body = agent.get("/console/requests")
	require.Equal(t, http.StatusOK, status, body)
	status, body = agent.get("/console/templates")
	require.Equal(t, http.StatusOK, status, body)
	status, body = agent.get("/console/templates/reminder_generic?ref=1234567")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Lefèvre")

	auditor := b.login(t, "auditor")
	status, body = auditor.get("/console/compliance")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "<svg")
	status, body = auditor.get("/console/compliance/complaints-15d?period=year&list=overdue")
	require.Equal(t, http.StatusOK, status, body)
	status, body = auditor.get("/console/callbacks")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Aucune notification en échec")
	_, err = b.pool.Exec(ctx, `
		WITH k AS (INSERT INTO api_keys (name, scopes, hash, prefix) VALUES ('crm', '{ingest}', '\x01', 'ck_') RETURNING id)
		INSERT INTO callback_events (event_id, key_id, type, notice_id, payload, state, attempts, last_attempt_at, last_status, last_error)
		SELECT gen_random_uuid(), id, 'notice.delivered', 7, '{}', 'failed', 15, now(), 503, 'HTTP 503 from receiver' FROM k`)
	require.NoError(t, err)
	status, body = auditor.get("/console/callbacks")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "HTTP 503 from receiver")
	require.Contains(t, body, "abandonnée")
	status, _ = agent.get("/console/callbacks")
	require.Equal(t, http.StatusForbidden, status)
	status, _ = auditor.get("/console/compliance/complaints-15d/evidence?period=month")
	require.Equal(t, http.StatusOK, status)
	status, _ = auditor.post("/console/recipients/1234567/send", url.Values{"csrf": {auditor.csrf}})
	require.Equal(t, http.StatusForbidden, status, "auditors are read-only")
}

func TestConsoleCampaignFourEyesAndImport(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	admin := b.login(t, "admin")
	status, body := admin.get("/console/campaigns/new")
	require.Equal(t, http.StatusOK, status, body)
	status, body = admin.postFile("/console/campaigns/new", "audience_file", "audience.yaml", []byte("ref_prefix: \"123\"\n"),
		url.Values{"csrf": {admin.csrf}, "template": {"general_information"}, "name": {"Printemps"}, "f_period": {"printemps 2027"}})
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "doit être approuvée")
	var id int64
	var aud string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT id, audience::text FROM campaigns WHERE name = 'Printemps'`).Scan(&id, &aud))
	require.Contains(t, aud, `"ref_prefix": "123"`)

	status, body = admin.post(fmt.Sprintf("/console/campaigns/%d/approve", id), url.Values{"csrf": {admin.csrf}})
	require.Equal(t, http.StatusForbidden, status, "four-eyes: the creator cannot approve")
	require.Contains(t, body, "quatre yeux")

	op := b.login(t, "operator")
	status, _ = op.post(fmt.Sprintf("/console/campaigns/%d/approve", id), url.Values{"csrf": {op.csrf}})
	require.Equal(t, http.StatusForbidden, status, "operators do not approve")
	status, body = op.post(fmt.Sprintf("/console/campaigns/%d/start", id), url.Values{"csrf": {op.csrf}})
	require.Equal(t, http.StatusForbidden, status, "not approved yet")
	require.Contains(t, body, "doit d&#39;abord être approuvée")

	ap := b.login(t, "approver")
	status, body = ap.post(fmt.Sprintf("/console/campaigns/%d/approve", id), url.Values{"csrf": {ap.csrf}})
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Campagne approuvée")
	status, body = op.post(fmt.Sprintf("/console/campaigns/%d/start", id), url.Values{"csrf": {op.csrf}})
	require.Equal(t, http.StatusOK, status, body)
	status, body = op.get(fmt.Sprintf("/console/campaigns/%d?fragment=progress", id))
	require.Equal(t, http.StatusOK, status, body)
	require.NotContains(t, body, "<html")
	status, body = op.get("/console/campaigns?fragment=rows")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Printemps")
	evs, err := campaigns.Events(ctx, b.pool, id)
	require.NoError(t, err)
	require.Equal(t, "staff:approver.test", evs[1].Actor)
	require.Equal(t, "staff:operator.test", evs[2].Actor)

	// CSV import: the check writes nothing and names the bad rows.
	csv := "ref;nom;prenom;email;telephone;code_postal\n9000001;Durand;Anne;anne@example.fr;0612345678;75011\n9000002;Petit;Luc;pas-un-courriel;;69003\n"
	status, body = op.postFile("/console/import", "file", "a.csv", []byte(csv), url.Values{"csrf": {op.csrf}})
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "<td>3</td>", "line 3 rejected")
	_, err = recipients.GetByRef(ctx, b.pool, "9000001")
	require.ErrorIs(t, err, recipients.ErrNotFound, "nothing written before confirmation")
	token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(body)[1]
	op.csrf = csrfRe.FindStringSubmatch(body)[1]
	status, body = op.post("/console/import/confirm", url.Values{"csrf": {op.csrf}, "token": {token}})
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Import terminé")
	_, err = recipients.GetByRef(ctx, b.pool, "9000001")
	require.NoError(t, err)
	status, _ = op.post("/console/import/confirm", url.Values{"csrf": {op.csrf}, "token": {token}})
	require.Equal(t, http.StatusNotFound, status, "imported once")
}

// TestConsoleHidesTestCampaigns: a campaign made with a test API key is test
// data; staff can neither open nor act on it from the console.
func TestConsoleHidesTestCampaigns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	admin := b.login(t, "admin")
	status, body := admin.postFile("/console/campaigns/new", "audience_file", "audience.yaml", []byte("ref_prefix: \"123\"\n"),
		url.Values{"csrf": {admin.csrf}, "template": {"general_information"}, "name": {"Essai"}, "f_period": {"printemps 2027"}})
	require.Equal(t, http.StatusOK, status, body)
	var id int64
	require.NoError(t, b.pool.QueryRow(ctx, `UPDATE campaigns SET test = true WHERE name = 'Essai' RETURNING id`).Scan(&id))

	status, _ = admin.get(fmt.Sprintf("/console/campaigns/%d", id))
	require.Equal(t, http.StatusNotFound, status, "a test campaign is not shown")
	ap := b.login(t, "approver")
	status, _ = ap.post(fmt.Sprintf("/console/campaigns/%d/approve", id), url.Values{"csrf": {ap.csrf}})
	require.Equal(t, http.StatusNotFound, status, "nor approved")
	var state string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT state FROM campaigns WHERE id = $1`, id).Scan(&state))
	require.NotEqual(t, "approved", state)
}

func testLedgerKey() *ledger.Key {
	priv, _, err := ledger.GenerateKey("courrier-test")
	if err != nil {
		panic(err)
	}
	k, err := ledger.ParseKey(priv)
	if err != nil {
		panic(err)
	}
	return k
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/courrier-dev/courrier/internal/bench"
	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/internal/telemetry"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/templates"
)

// rejectingSMTP is a real SMTP server that refuses, with 550, every
// recipient whose address starts with "inconnu".
type rejectingSMTP struct {
	addr     string
	srv      *smtp.Server
	accepted atomic.Int64
}

func startRejectingSMTP(t *testing.T) *rejectingSMTP {
	t.Helper()
	s := &rejectingSMTP{}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.addr = l.Addr().String()
	go func() { _ = s.srv.Serve(l) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

func (s *rejectingSMTP) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &rejectingSession{s}, nil
}

type rejectingSession struct{ s *rejectingSMTP }

func (*rejectingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (*rejectingSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "inconnu") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	return nil
}
func (ss *rejectingSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	ss.s.accepted.Add(1)
	return err
}
func (*rejectingSession) Reset()        {}
func (*rejectingSession) Logout() error { return nil }

// opsBundle is a courrier wired as serve wires it, on real providers.
type opsBundle struct {
	ctx   context.Context
	pool  *pgxpool.Pool
	rt    *runtime
	app   *app
	srv   *httptest.Server
	key   string // ingest, staff
	admin string
}

func setupOps(t *testing.T, vars map[string]string) *opsBundle {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	vars["COURRIER_OUTBOX"] = t.TempDir()
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return vars[k] },
		Pool: pgtest.New(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	b := &opsBundle{ctx: ctx, pool: env.Pool}
	var err error
	b.rt, err = env.newRuntime(ctx, b.pool, env.Logger, runtimeOpts{noQuietHours: true})
	require.NoError(t, err)
	t.Cleanup(b.rt.Close)
	b.app, err = env.newApp(ctx, b.pool, b.rt)
	require.NoError(t, err)
	require.NoError(t, b.app.client.Start(ctx))
	t.Cleanup(func() {
		stopCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		_ = b.app.client.Stop(stopCtx)
	})
	b.srv = httptest.NewServer(traced(b.app.http))
	t.Cleanup(b.srv.Close)
	b.key, _, err = jobs.CreateAPIKey(ctx, b.pool, jobs.NewAPIKey{Name: "upstream", Operator: "Ops", Scopes: []string{"ingest", "staff"}})
	require.NoError(t, err)
	b.admin, _, err = jobs.CreateAPIKey(ctx, b.pool, jobs.NewAPIKey{Name: "prometheus", Operator: "Ops", Scopes: []string{"admin"}})
	require.NoError(t, err)
	return b
}

func (b *opsBundle) call(t *testing.T, method, path, key string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		r = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, b.srv.URL+path, r)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, out
}

func (b *opsBundle) addRecipient(t *testing.T, ref, email string) int64 {
	t.Helper()
	status, out := b.call(t, "PUT", "/v1/recipients/"+ref, b.key, map[string]any{
		"civility": "Mme", "given_name": "Léa", "family_name": "Dupré", "email": email,
		"address_line1": "3 rue des Lilas", "postal_code": "75011", "city": "Paris",
	})
	require.Contains(t, []int{200, 201}, status, "%s", out)
	var id int64
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT id FROM recipients WHERE ref = $1`, ref).Scan(&id))
	return id
}

// scrape reads /metrics with the admin key into series → value.
func (b *opsBundle) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	status, out := b.call(t, "GET", "/metrics", b.admin, nil)
	require.Equal(t, http.StatusOK, status)
	series := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		series[line[:i]] = v
	}
	return series
}

func (b *opsBundle) count(t *testing.T, sql string, args ...any) float64 {
	t.Helper()
	var n int64
	require.NoError(t, b.pool.QueryRow(b.ctx, sql, args...).Scan(&n))
	return float64(n)
}

// TestMetricsFollowTheLedger sends a small general mailing over real SMTP,
// where two addresses are refused and fall back to letters, and checks that
// the scraped counters say what the ledger says.
func TestMetricsFollowTheLedger(t *testing.T) {
	t.Parallel()
	relay := startRejectingSMTP(t)
	b := setupOps(t, map[string]string{"SMTP_URL": "smtp://" + relay.addr + "?tls=none", "COURRIER_LETTER": "outbox"})

	// Unauthenticated and non-admin scrapes are refused.
	status, _ := b.call(t, "GET", "/metrics", "", nil)
	require.Equal(t, http.StatusUnauthorized, status)
	status, _ = b.call(t, "GET", "/metrics", b.key, nil)
	require.Equal(t, http.StatusForbidden, status)

	client, err := jobs.NewInsertClient(b.pool, nil)
	require.NoError(t, err)
	emails := []string{"lea@exemple.fr", "inconnu1@exemple.fr", "paul@exemple.fr", "inconnu2@exemple.fr", "zoe@exemple.fr"}
	var ids []int64
	for i, email := range emails {
		rid := b.addRecipient(t, fmt.Sprintf("80000%d", i), email)
		require.NoError(t, pgx.BeginFunc(b.ctx, b.pool, func(tx pgx.Tx) error {
			id, _, err := jobs.EnqueueNotice(b.ctx, tx, client, notices.New{RecipientID: rid, Kind: notices.GeneralInformation,
				IdempotencyKey: fmt.Sprintf("ops-mailing-%d", i), Data: templates.SampleData("general_information")}, nil)
			ids = append(ids, id)
			return err
		}))
	}
	// Before any sealing, the live counters already move.
	require.Eventually(t, func() bool {
		return b.count(t, `SELECT count(*) FROM notices WHERE id = ANY($1) AND state = 'delivered'`, ids) == float64(len(ids))
	}, 30*time.Second, 50*time.Millisecond)
	require.EqualValues(t, 3, relay.accepted.Load())

	// Seal the ledger and let the metrics read it, as the sampler does.
	require.Eventually(t, func() bool {
		_, err := ledger.Seal(b.ctx, b.pool, ledger.SealOptions{Key: opsTestKey, Settle: time.Nanosecond})
		require.NoError(t, err)
		return b.count(t, `SELECT count(*) FROM delivery_events e WHERE NOT EXISTS (SELECT 1 FROM ledger_leaves c WHERE c.event_id = e.id)`) == 0
	}, 30*time.Second, 200*time.Millisecond)
	_, err = b.rt.metrics.TailLedger(b.ctx, b.pool)
	require.NoError(t, err)
	require.NoError(t, b.rt.metrics.Sample(b.ctx, b.pool, true))
	m := b.scrape(t)

	events := func(provider, event string) float64 {
		return b.count(t, `SELECT count(*) FROM delivery_events e JOIN deliveries d ON d.id = e.delivery_id
			WHERE d.provider = $1 AND e.event = $2`, provider, event)
	}
	smtpDelivered := events("smtp", "delivered")
	require.EqualValues(t, 3, smtpDelivered)
	require.Equal(t, smtpDelivered, m[`courrier_messages_accepted_total{channel="email",provider="smtp"}`])
	require.Equal(t, smtpDelivered, m[`courrier_messages_delivered_total{channel="email",provider="smtp"}`])
	require.Equal(t, events("smtp", "sending"), m[`courrier_messages_attempted_total{channel="email",provider="smtp"}`])
	smtpFailed := events("smtp", "failed")
	require.EqualValues(t, 2, smtpFailed)
	require.Equal(t, smtpFailed, m[`courrier_messages_failed_total{channel="email",class="address_rejected",provider="smtp"}`])
	require.Zero(t, m[`courrier_messages_failed_total{channel="email",class="transient",provider="smtp"}`])
	require.Equal(t, smtpFailed, m[`courrier_ledger_events_total{channel="email",event="failed",provider="smtp"}`])
	// The two refused addresses fell back to letters (the outbox here).
	require.EqualValues(t, 2, m[`courrier_messages_fallen_back_total{channel="letter",provider="outbox"}`])
	require.Equal(t, events("outbox", "delivered"), m[`courrier_messages_delivered_total{channel="letter",provider="outbox"}`])
	require.EqualValues(t, 2, m[`courrier_messages_delivered_total{channel="letter",provider="outbox"}`])
	// Every notice reached a final delivered outcome, well within a day.
	require.EqualValues(t, 5, m[`courrier_notice_final_seconds_count{kind="general_information",outcome="delivered"}`])
	require.EqualValues(t, 5, m[`courrier_notice_final_seconds_bucket{kind="general_information",outcome="delivered",le="86400"}`])
	require.EqualValues(t, 5, m[`courrier_notice_accepted_seconds_count{kind="general_information"}`])
	var total float64
	for k, v := range m {
		if strings.HasPrefix(k, "courrier_ledger_events_total{") {
			total += v
		}
	}
	require.Equal(t, b.count(t, `SELECT count(*) FROM delivery_events`), total)
	// Sampled gauges: everything sealed, no job left behind.
	require.Zero(t, m[`courrier_ledger_unsealed_events`])
	require.Positive(t, m[`courrier_ledger_last_seal_timestamp_seconds`])
	require.EqualValues(t, 1, m[`courrier_provider_up{channel="email",provider="smtp"}`])
	require.EqualValues(t, 5, m[`courrier_river_job_outcomes_total{kind="deliver",outcome="ok",queue="default"}`])

	// A second read counts nothing twice.
	n, err := b.rt.metrics.TailLedger(b.ctx, b.pool)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, smtpDelivered, b.scrape(t)[`courrier_messages_delivered_total{channel="email",provider="smtp"}`])

	// Readiness: database, migrations, providers.
	res, err := http.Get(b.srv.URL + "/readyz")
	require.NoError(t, err)
	var ready struct {
		Status string                     `json:"status"`
		Checks map[string]json.RawMessage `json:"checks"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&ready))
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "ready", ready.Status)
	require.Contains(t, ready.Checks, "migrations")
	require.Contains(t, string(ready.Checks["providers"]), `"provider":"smtp","up":true`)
}

// TestTraceFollowsANotice checks that one notice's trace spans the HTTP
// intake, the River job and the provider call, and that the notice keeps
// its trace id. It installs a global tracer provider, so it is not parallel.
func TestTraceFollowsANotice(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	tp := telemetry.NewTracerProvider()
	tp.RegisterSpanProcessor(sdktrace.NewSimpleSpanProcessor(exporter))
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })
	_, err := telemetry.SetupTracing(context.Background(), func(string) string { return "" }, "test") // propagators only
	require.NoError(t, err)

	sink, err := bench.StartSMTPSink()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sink.Close() })
	b := setupOps(t, map[string]string{"SMTP_URL": sink.URL()})
	b.addRecipient(t, "7654321", "lea.dupre@exemple.fr")
	status, out := b.call(t, "POST", "/v1/events/rights", b.key, map[string]any{
		"event_id": "evt-trace", "recipient_ref": "7654321", "event": "opened", "benefit": "AF", "amount": 141.99, "effective_on": "2027-04-01",
	})
	require.Equal(t, http.StatusCreated, status, "%s", out)
	var created struct {
		NoticeID int64 `json:"notice_id"`
	}
	require.NoError(t, json.Unmarshal(out, &created))

	var view struct {
		Notice  struct{ State string } `json:"notice"`
		TraceID string                 `json:"trace_id"`
	}
	require.Eventually(t, func() bool {
		_, out := b.call(t, "GET", fmt.Sprintf("/v1/notices/%d", created.NoticeID), b.key, nil)
		require.NoError(t, json.Unmarshal(out, &view))
		return view.Notice.State == "delivered"
	}, 30*time.Second, 50*time.Millisecond)
	require.Len(t, view.TraceID, 32)
	require.NoError(t, tp.ForceFlush(context.Background()))

	names, all := map[string]bool{}, map[string]bool{}
	for _, s := range exporter.GetSpans() {
		all[s.Name] = true
		if s.SpanContext.TraceID().String() == view.TraceID {
			names[s.Name] = true
		}
		// No beneficiary number or notice id in any server span name or URL.
		for _, a := range s.Attributes {
			if a.Key == "url.path" {
				require.NotContains(t, a.Value.AsString(), "7654321")
				require.Equal(t, telemetry.ScrubPath(a.Value.AsString()), a.Value.AsString())
			}
		}
		require.NotContains(t, s.Name, "7654321")
	}
	require.True(t, names["POST /v1/events/rights"], "HTTP intake span missing from the notice's trace: %v", names)
	require.True(t, names["provider.send smtp"], "provider span missing from the notice's trace: %v", names)
	var river bool
	for n := range names {
		if strings.HasPrefix(n, "river.work") {
			river = true
		}
	}
	require.True(t, river, "River work span missing from the notice's trace: %v", names)
	require.True(t, all["GET /v1/notices/{id}"], "status reads are traced with the id scrubbed: %v", all)
}

var opsTestKey = func() *ledger.Key {
	priv, _, err := ledger.GenerateKey("courrier-test")
	if err != nil {
		panic(err)
	}
	k, err := ledger.ParseKey(priv)
	if err != nil {
		panic(err)
	}
	return k
}()

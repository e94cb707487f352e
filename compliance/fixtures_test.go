package compliance_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/compliance"
	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/ledger"
)

var seq atomic.Int64

type fx struct {
	t    testing.TB
	ctx  context.Context
	pool *pgxpool.Pool
}

func setup(t testing.TB) *fx {
	t.Helper()
	return &fx{t: t, ctx: context.Background(), pool: pgtest.New(t)}
}

// paris returns a Paris wall-clock time.
func paris(y int, m time.Month, d, h, min, s int) time.Time {
	return time.Date(y, m, d, h, min, s, 0, compliance.Paris)
}

func (f *fx) recipient(ref string, joined time.Time) int64 {
	f.t.Helper()
	var id int64
	err := f.pool.QueryRow(f.ctx, `INSERT INTO recipients (ref, given_name, family_name, email, joined_at)
		VALUES ($1, 'Claire', 'Martin', 'claire.martin@example.fr', $2) RETURNING id`, ref, joined).Scan(&id)
	require.NoError(f.t, err)
	return id
}

// notice inserts a notice; when delivered is non-nil it is delivered then
// through provider, otherwise it was sent and never delivered. Everything
// goes through the ledger's write functions, as the workers do.
func (f *fx) notice(recipient int64, kind string, created time.Time, delivered *time.Time, provider string) int64 {
	return f.noticeOpts(recipient, kind, created, delivered, provider, false)
}

func (f *fx) noticeOpts(recipient int64, kind string, created time.Time, delivered *time.Time, provider string, test bool) int64 {
	f.t.Helper()
	var id int64
	err := f.pool.QueryRow(f.ctx, `INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, created_at, test)
		VALUES ($1, $2, $2, $3, $4, $5) RETURNING id`,
		recipient, kind, fmt.Sprintf("fx-%d", seq.Add(1)), created, test).Scan(&id)
	require.NoError(f.t, err)
	channel := map[string]string{"smtp": "email", "twilio": "sms", "print": "letter", "outbox": "email"}[provider]
	if channel == "" {
		channel, provider = "email", "smtp"
	}
	tx, err := f.pool.Begin(f.ctx)
	require.NoError(f.t, err)
	defer func() { _ = tx.Rollback(f.ctx) }()
	did, _, err := ledger.StartAttempt(f.ctx, tx, ledger.Attempt{NoticeID: id, Channel: channel, Provider: provider,
		Address: "claire.martin@example.fr", TemplateVersion: strings.Repeat("a", 64), Content: ledger.Content{Subject: "s", Text: "t"}, At: created})
	require.NoError(f.t, err)
	mid := fmt.Sprintf("msg-%d", id)
	switch {
	case delivered == nil:
		_, err = ledger.Accepted(f.ctx, tx, did, id, mid, false, provider+"_accepted", created)
	case provider == "twilio":
		if _, err = ledger.Accepted(f.ctx, tx, did, id, mid, false, "twilio_accepted", created); err == nil {
			_, err = ledger.RecordReceipt(f.ctx, tx, ledger.Receipt{Provider: "twilio", MessageID: mid, Status: "delivered", OccurredAt: *delivered})
		}
	default:
		evidence := map[string]string{"smtp": ledger.EvidenceSMTPAccepted, "print": ledger.EvidencePrintHanded, "outbox": ledger.EvidenceOutboxFile}[provider]
		_, err = ledger.Accepted(f.ctx, tx, did, id, mid, true, evidence, *delivered)
	}
	require.NoError(f.t, err)
	if delivered != nil {
		_, err = tx.Exec(f.ctx, `UPDATE notices SET state = 'delivered', delivered_at = $2 WHERE id = $1`, id, *delivered)
		require.NoError(f.t, err)
	}
	require.NoError(f.t, tx.Commit(f.ctx))
	return id
}

// seal seals everything recorded so far with the test key.
func (f *fx) seal() {
	f.t.Helper()
	_, err := ledger.Seal(f.ctx, f.pool, ledger.SealOptions{Key: testKey, Settle: time.Nanosecond})
	require.NoError(f.t, err)
}

// testKey signs the test ledgers; otherKey is an attacker's.
var testKey, otherKey = mustKey(), mustKey()

func mustKey() *ledger.Key {
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

type req struct {
	ref, kind, channel string
	minimumIncome      bool
	received           time.Time
	ack, answer        *time.Time // delivery times; nil = not delivered
}

func (f *fx) request(r req) {
	f.t.Helper()
	var rid int64
	err := f.pool.QueryRow(f.ctx, `SELECT id FROM recipients WHERE ref = $1`, r.ref).Scan(&rid)
	if err != nil {
		rid = f.recipient(r.ref, r.received.AddDate(-3, 0, 0))
	}
	if r.kind == "" {
		r.kind = "benefit_claim"
	}
	if r.channel == "" {
		r.channel = "online"
	}
	ack := f.notice(rid, "request_acknowledgement", r.received, r.ack, "smtp")
	answerKind := "request_answer"
	if r.kind == "complaint" {
		answerKind = "complaint_answer"
	}
	answer := f.notice(rid, answerKind, r.received, r.answer, "print")
	_, err = f.pool.Exec(f.ctx, `INSERT INTO requests (external_id, recipient_id, kind, minimum_income, channel, received_at,
			ack_due_by, answer_due_by, ack_notice_id, answer_notice_id)
		VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $6::timestamptz + interval '5 days', $6::timestamptz + interval '15 days', $7, $8)`,
		fmt.Sprintf("REQ-%d", seq.Add(1)), rid, r.kind, r.minimumIncome, r.channel, r.received, ack, answer)
	require.NoError(f.t, err)
}

func ptr(t time.Time) *time.Time { return &t }

func (f *fx) run(rule string, from, to string, asOf time.Time) *compliance.Report {
	f.t.Helper()
	p, err := compliance.ParsePeriod(from, to)
	require.NoError(f.t, err)
	p.AsOf = asOf
	p.Accept, err = compliance.ParseAccept("all")
	require.NoError(f.t, err)
	f.seal()
	r, err := compliance.Run(f.ctx, f.pool, rule, p)
	require.NoError(f.t, err)
	return r
}

func metric(t testing.TB, r *compliance.Report, name string) int64 {
	t.Helper()
	v, ok := r.Metric(name)
	require.True(t, ok, "metric %s missing from %v", name, r.Metrics)
	return v
}

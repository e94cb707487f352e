package compliance_test

import (
	"context"
	"fmt"
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
// through provider, otherwise it was sent and never delivered.
func (f *fx) notice(recipient int64, kind string, created time.Time, delivered *time.Time, provider string) int64 {
	f.t.Helper()
	var id int64
	state := "sent"
	if delivered != nil {
		state = "delivered"
	}
	err := f.pool.QueryRow(f.ctx, `INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, state, created_at, sent_at, delivered_at)
		VALUES ($1, $2, $2, $3, $4, $5, $5, $6) RETURNING id`,
		recipient, kind, fmt.Sprintf("fx-%d", seq.Add(1)), state, created, delivered).Scan(&id)
	require.NoError(f.t, err)
	channel := map[string]string{"smtp": "email", "twilio": "sms", "print": "letter", "outbox": "email"}[provider]
	if channel == "" {
		channel, provider = "email", "smtp"
	}
	var did int64
	err = f.pool.QueryRow(f.ctx, `INSERT INTO deliveries (notice_id, channel, provider, address, template_version, content, content_hash,
			provider_message_id, state, attempt, created_at, sent_at, final_at)
		VALUES ($1, $2, $3, 'claire.martin@example.fr', repeat('a', 64), '{"subject":"s","text":"t"}', $8, $4, $5, 1, $6, $6, $7) RETURNING id`,
		id, channel, provider, fmt.Sprintf("msg-%d", id), state, created, delivered, ledger.Content{Subject: "s", Text: "t"}.Hash()).Scan(&did)
	require.NoError(f.t, err)
	_, err = f.pool.Exec(f.ctx, `INSERT INTO delivery_events (delivery_id, notice_id, event, detail, occurred_at) VALUES ($1, $2, 'sent', 'accepted by provider', $3)`, did, id, created)
	require.NoError(f.t, err)
	if delivered != nil {
		_, err = f.pool.Exec(f.ctx, `INSERT INTO delivery_events (delivery_id, notice_id, event, detail, occurred_at) VALUES ($1, $2, 'delivered', $3, $4)`, did, id, provider, *delivered)
		require.NoError(f.t, err)
	}
	return id
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

func (f *fx) asSuperuser(sql string) {
	f.t.Helper()
	conn, err := f.pool.Acquire(f.ctx)
	require.NoError(f.t, err)
	defer conn.Release()
	_, err = conn.Exec(f.ctx, "SET session_replication_role = replica; "+sql+"; SET session_replication_role = origin")
	require.NoError(f.t, err)
}

package bench

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/compliance"
	"github.com/courrier-dev/courrier/ledger"
)

// The reports phase: a history of HistoryEvents ledger events over the
// beneficiaries (notices of the last two years, their deliveries and
// events, requests), the projections built as sealing builds them, then
// every compliance report timed.
//
// The history is generated inside PostgreSQL (INSERT … SELECT over the
// beneficiaries, range by range), which moves no row over the wire and
// fires the same triggers as the workers' writes: the notice-creation and
// request events with their facts, the ledger's insert trigger. Sealing
// 10,000,000 events with the real sealer would take half an hour on two
// cores (Merkle tree, JSON facts, ~5,600 events/s), so the notice and
// request projections are written by one statement each from the rows the
// events were made from, with the sealer's rules (first proven and first
// weak evidence per notice; a notice's Caf is its own, else its
// beneficiary's), and the coverage projection by the sealer's own code
// (ledger.RebuildCoverage). The Merkle tree is not built: reports do not
// read it. TestReportsSeedAsSealed checks on a small history that the real
// sealer, run afterwards, changes no projection row.

// reportCafs are the Caf codes the seeded beneficiaries are spread over.
var reportCafs = []string{"751", "130", "690", "330", "590", "974", "310", "440", "670", "060"}

// bulkTables are the tables the history fills; their secondary indexes
// are dropped while it is written and built again afterwards (a sorted
// build is several times cheaper than millions of index insertions).
var bulkTables = []string{"notices", "deliveries", "delivery_events", "requests"}

// dropIndexes drops the secondary indexes of bulkTables (not those behind a
// primary key or a unique constraint) and returns their definitions.
func dropIndexes(ctx context.Context, conn *pgxpool.Conn) ([]string, error) {
	rows, err := conn.Query(ctx, `
		SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
		WHERE i.indrelid = ANY(SELECT unnest($1::text[])::regclass)
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`, bulkTables)
	if err != nil {
		return nil, err
	}
	var names, defs []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return nil, err
		}
		names, defs = append(names, name), append(defs, def)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, n := range names {
		if _, err := conn.Exec(ctx, `DROP INDEX `+n); err != nil {
			return nil, err
		}
	}
	return defs, nil
}

// seedHistory writes the history and its projections; it returns the
// number of ledger events written.
//
// As a superuser it writes with session_replication_role = replica: no
// trigger fires (neither the foreign-key checks, redundant here, nor the
// ledger's insert triggers), so it writes the events those triggers would
// write itself, with the same facts (migration 0010), and drops the
// secondary indexes of the tables it fills while it writes them.
func (b *runner) seedHistory(ctx context.Context) (int64, error) {
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	bulk := false
	var indexes []string
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err == nil {
		bulk = true
		defer func() { _, _ = conn.Exec(context.Background(), `SET session_replication_role = DEFAULT`) }()
		if indexes, err = dropIndexes(ctx, conn); err != nil {
			return 0, fmt.Errorf("drop indexes for the seeding: %w", err)
		}
	}
	n := int64(b.opts.Recipients)
	perNotice := int64(2) // notice_created, then delivered (or sending, never confirmed)
	k := max(b.opts.HistoryEvents/(perNotice*n), 3)
	now := time.Now()
	var lo, hi int64
	if err := b.pool.QueryRow(ctx, `SELECT min(id), max(id) FROM recipients`).Scan(&lo, &hi); err != nil {
		return 0, err
	}
	var before int64
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM delivery_events`).Scan(&before); err != nil {
		return 0, err
	}
	const step = 50_000
	for from := lo; from <= hi; from += step {
		to := from + step - 1
		if err := b.seedRange(ctx, conn, from, to, k, now, bulk); err != nil {
			return 0, err
		}
		b.progress("seeding history: beneficiaries %d/%d", min(to, hi)-lo+1, hi-lo+1)
	}
	for i, def := range indexes {
		b.progress("seeding history: index %d/%d", i+1, len(indexes))
		if _, err := conn.Exec(ctx, def); err != nil {
			return 0, fmt.Errorf("rebuild index: %w", err)
		}
	}
	b.progressDone()
	if err := b.buildProjections(ctx); err != nil {
		return 0, err
	}
	var after int64
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM delivery_events`).Scan(&after); err != nil {
		return 0, err
	}
	return after - before, nil
}

// seedRange writes the history of beneficiaries from..to: k notices each —
// a rights change 11 to 10 months before this year's 1 January, a yearly
// statement 11 to 12 months after it (so that most beneficiaries are
// covered all year), the rest general mailings spread over this year
// until now — 1 in 40 sent but never confirmed, delivered by email
// (presumed delivered: the bounce wait is over), SMS or letter; one request
// in ten, answered by the yearly statement.
func (b *runner) seedRange(ctx context.Context, conn *pgxpool.Conn, from, to, k int64, now time.Time, bulk bool) error {
	yearStart := time.Date(now.In(compliance.Paris).Year(), 1, 1, 0, 0, 0, 0, compliance.Paris)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	steps := []struct {
		what, sql string
		args      []any
	}{
		{"Cafs", `UPDATE recipients SET caf = ($3::text[])[1 + id % array_length($3::text[], 1)] WHERE id BETWEEN $1 AND $2`, []any{reportCafs}},
		{"notices", `
			INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, state, created_at, sent_at, delivered_at)
			SELECT r.id, x.kind, x.kind, 'hist-' || r.id || '-' || g, CASE WHEN x.ok THEN 'delivered' ELSE 'sent' END,
			       x.t, x.t, CASE WHEN x.ok THEN x.t + interval '2 hours' END
			FROM recipients r CROSS JOIN generate_series(1, $3::int) g
			CROSS JOIN LATERAL (SELECT CASE g WHEN 1 THEN 'rights_changed' WHEN 2 THEN 'yearly_statement' ELSE 'general_information' END AS kind,
			        (r.id + g) % 40 <> 0 AS ok,
			        CASE g WHEN 1 THEN y.first
			               WHEN 2 THEN least(y.first + (335 + r.id * 13 % 25) * interval '1 day', $4::timestamptz - interval '1 day')
			               ELSE $5::timestamptz + ((g - 2.5) / ($3::int - 2))::float8 * ($4::timestamptz - interval '2 days' - $5::timestamptz) + (r.id % 86400) * interval '1 second'
			        END AS t
			        FROM (SELECT $5::timestamptz - interval '330 days' + (r.id * 7 % 30) * interval '1 day' + (r.id % 86400) * interval '1 second' AS first) y) x
			WHERE r.id BETWEEN $1 AND $2`, []any{k, now, yearStart}},
		{"notice_created events", noticeCreatedSQL, nil},
		{"deliveries", `
			INSERT INTO deliveries (notice_id, channel, provider, address, content_hash, state, attempt, created_at, sent_at, final_at)
			SELECT n.id, (ARRAY['email', 'sms', 'letter'])[1 + n.id % 3], (ARRAY['smtp', 'twilio', 'print'])[1 + n.id % 3], '',
			       'h', CASE WHEN n.delivered_at IS NULL THEN 'sent' ELSE 'delivered' END, 1, n.created_at, n.created_at, n.delivered_at
			FROM notices n WHERE n.recipient_id BETWEEN $1 AND $2 AND n.idempotency_key LIKE 'hist-%'`, nil},
		{"events", `
			INSERT INTO delivery_events (delivery_id, notice_id, event, detail, occurred_at, facts, recorded_at)
			SELECT d.id, d.notice_id, CASE WHEN d.final_at IS NULL THEN 'sending' ELSE 'delivered' END, '', coalesce(d.final_at, d.sent_at),
			       jsonb_build_object('channel', d.channel, 'provider', d.provider) ||
			       CASE WHEN d.final_at IS NULL THEN '{}'::jsonb
			            ELSE jsonb_build_object('evidence', CASE d.provider WHEN 'smtp' THEN 'presumed_delivered' WHEN 'twilio' THEN 'twilio_delivered' ELSE 'print_handed' END) END,
			       clock_timestamp()
			FROM deliveries d JOIN notices n ON n.id = d.notice_id
			WHERE n.recipient_id BETWEEN $1 AND $2 AND n.idempotency_key LIKE 'hist-%' ORDER BY d.id`, nil},
		{"requests", `
			INSERT INTO requests (external_id, recipient_id, kind, minimum_income, channel, received_at, ack_due_by, answer_due_by, ack_notice_id, answer_notice_id)
			SELECT 'hist-q' || r.id, r.id, CASE WHEN r.id % 50 = 0 THEN 'complaint' ELSE 'benefit_claim' END, r.id % 7 = 0,
			       CASE WHEN r.id % 4 = 0 THEN 'post' ELSE 'online' END,
			       n.created_at - (r.id % 20) * interval '1 day', n.created_at - (r.id % 20) * interval '1 day' + interval '5 days',
			       n.created_at - (r.id % 20) * interval '1 day' + interval '15 days', n.id, n.id
			FROM recipients r JOIN notices n ON n.recipient_id = r.id AND n.idempotency_key = 'hist-' || r.id || '-2'
			WHERE r.id BETWEEN $1 AND $2 AND r.id % 10 = 0`, nil},
		{"request events", requestEventsSQL, nil},
	}
	for _, s := range steps {
		if !bulk && (s.sql == noticeCreatedSQL || s.sql == requestEventsSQL) {
			continue // the triggers wrote them
		}
		if _, err := tx.Exec(ctx, s.sql, append([]any{from, to}, s.args...)...); err != nil {
			return fmt.Errorf("seed %s of beneficiaries %d-%d: %w", s.what, from, to, err)
		}
	}
	return tx.Commit(ctx)
}

// noticeCreatedSQL and requestEventsSQL write the events the triggers of
// migration 0010 write (courrier_notices_created, courrier_requests_recorded),
// when the seeding runs without triggers.
const (
	noticeCreatedSQL = `
		INSERT INTO delivery_events (notice_id, event, detail, occurred_at, facts, recorded_at)
		SELECT n.id, 'notice_created', '', n.created_at,
		       jsonb_build_object(
		           'kind', n.kind, 'template_key', n.template_key,
		           'recipient', r.ref, 'recipient_id', n.recipient_id::text,
		           'caf', coalesce(nullif(n.caf, ''), r.caf, ''),
		           'due_by', courrier_ts(n.due_by), 'test', n.test::text,
		           'campaign_id', coalesce(n.campaign_id::text, ''),
		           'created_by', n.created_by, 'created_at', courrier_ts(n.created_at)), clock_timestamp()
		FROM notices n JOIN recipients r ON r.id = n.recipient_id
		WHERE n.recipient_id BETWEEN $1 AND $2 AND n.idempotency_key LIKE 'hist-%'
		ORDER BY n.id`
	requestEventsSQL = `
		INSERT INTO delivery_events (notice_id, event, detail, occurred_at, facts, recorded_at)
		SELECT x.notice_id, x.event, '', x.occurred_at, x.facts, clock_timestamp() FROM (
		    SELECT q.id, 0 AS o, NULL::bigint AS notice_id, 'request_received' AS event, q.received_at AS occurred_at, jsonb_build_object(
		           'request', q.external_id, 'recipient', r.ref, 'recipient_id', q.recipient_id::text, 'caf', coalesce(r.caf, ''),
		           'kind', q.kind, 'minimum_income', q.minimum_income::text, 'channel', q.channel,
		           'received_at', courrier_ts(q.received_at), 'ack_due_by', courrier_ts(q.ack_due_by),
		           'answer_due_by', courrier_ts(q.answer_due_by)) AS facts
		    FROM requests q JOIN recipients r ON r.id = q.recipient_id
		    WHERE q.recipient_id BETWEEN $1 AND $2 AND q.external_id LIKE 'hist-q%'
		    UNION ALL
		    SELECT q.id, 1, q.ack_notice_id, 'request_linked', clock_timestamp(), jsonb_build_object('request', q.external_id, 'role', 'ack')
		    FROM requests q WHERE q.recipient_id BETWEEN $1 AND $2 AND q.external_id LIKE 'hist-q%' AND q.ack_notice_id IS NOT NULL
		    UNION ALL
		    SELECT q.id, 2, q.answer_notice_id, 'request_linked', clock_timestamp(), jsonb_build_object('request', q.external_id, 'role', 'answer')
		    FROM requests q WHERE q.recipient_id BETWEEN $1 AND $2 AND q.external_id LIKE 'hist-q%' AND q.answer_notice_id IS NOT NULL
		) x ORDER BY x.id, x.o`
)

// buildProjections writes the notice, request and coverage projections of
// the seeded history as the sealer would (see the top of this file).
func (b *runner) buildProjections(ctx context.Context) error {
	steps := []struct{ what, sql string }{
		{"notice projection", `
			INSERT INTO proj_notices (notice_id, recipient, recipient_id, caf, kind, test, campaign_id, created_at, due_by,
			    proven_level, proven_at, proven_channel, weak_level, weak_at, weak_channel)
			SELECT n.id, r.ref, n.recipient_id, coalesce(nullif(n.caf, ''), r.caf, ''), n.kind, n.test, n.campaign_id, n.created_at, n.due_by,
			       CASE WHEN d.final_at IS NOT NULL THEN (CASE d.provider WHEN 'smtp' THEN 'presumed_delivered' WHEN 'twilio' THEN 'twilio_delivered' ELSE 'print_handed' END) ELSE '' END,
			       d.final_at, CASE WHEN d.final_at IS NOT NULL THEN d.channel ELSE '' END, '', NULL, ''
			FROM notices n JOIN recipients r ON r.id = n.recipient_id JOIN deliveries d ON d.notice_id = n.id
			WHERE n.idempotency_key LIKE 'hist-%'
			ON CONFLICT (notice_id) DO NOTHING`},
		{"request projection", `
			INSERT INTO proj_requests (request, recipient, recipient_id, caf, kind, minimum_income, channel, received_at,
			    ack_due_by, answer_due_by, ack_notice_id, answer_notice_id)
			SELECT q.external_id, r.ref, q.recipient_id, coalesce(r.caf, ''), q.kind, q.minimum_income, q.channel, q.received_at,
			       q.ack_due_by, q.answer_due_by, q.ack_notice_id, q.answer_notice_id
			FROM requests q JOIN recipients r ON r.id = q.recipient_id WHERE q.external_id LIKE 'hist-q%'
			ON CONFLICT (request) DO NOTHING`},
	}
	for _, s := range steps {
		b.progress("seeding history: %s", s.what)
		if _, err := b.pool.Exec(ctx, s.sql); err != nil {
			return fmt.Errorf("seed %s: %w", s.what, err)
		}
	}
	b.progress("seeding history: coverage projection")
	if _, err := ledger.RebuildCoverage(ctx, b.pool); err != nil {
		return err
	}
	if _, err := b.pool.Exec(ctx, `DELETE FROM proj_coverage_rebuild`); err != nil {
		return err
	}
	b.progressDone()
	_, err := b.pool.Exec(ctx, `VACUUM ANALYZE`)
	return err
}

// reportsPhase seeds the history and times every report over the current
// Paris calendar year: the median of three runs from the projections the
// reports read, and one run from the notice projection alone (how the
// yearly-notice and general-mailings reports were computed before the
// coverage projection).
func (b *runner) reportsPhase(ctx context.Context) error {
	b.startPhase()
	start := time.Now()
	events, err := b.seedHistory(ctx)
	if err != nil {
		return err
	}
	var notices int64
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM proj_notices`).Scan(&notices); err != nil {
		return err
	}
	b.record(ctx, Phase{Name: "reports: seed history", Count: int(events), Seconds: time.Since(start).Seconds(),
		Note: fmt.Sprintf("%d beneficiaries, %d notices, %d ledger events (projections built as sealing would)", b.opts.Recipients, notices, events)})

	y := time.Now().In(compliance.Paris).Year()
	p, err := compliance.ParsePeriod(fmt.Sprintf("%d-01-01", y), fmt.Sprintf("%d-12-31", y))
	if err != nil {
		return err
	}
	if b.rep.Compliance == nil {
		b.rep.Compliance = map[string]float64{}
	}
	for _, rule := range compliance.RuleNames() {
		var runs []float64
		var source string
		b.startPhase()
		for range 3 {
			t0 := time.Now()
			r, err := compliance.Run(ctx, b.pool, rule, p)
			if err != nil {
				return fmt.Errorf("%s: %w", rule, err)
			}
			runs = append(runs, time.Since(t0).Seconds())
			source = r.Source
			b.progress("reports: %s %.2fs", rule, runs[len(runs)-1])
		}
		slices.Sort(runs)
		t0 := time.Now()
		if _, err := compliance.Run(compliance.FromNotices(ctx), b.pool, rule, p); err != nil {
			return fmt.Errorf("%s from the notices: %w", rule, err)
		}
		fromNotices := time.Since(t0).Seconds()
		b.progressDone()
		b.rep.Compliance[rule] = runs[1]
		b.rep.Compliance[rule+" (from proj_notices)"] = fromNotices
		b.record(ctx, Phase{Name: "report " + rule, Count: b.opts.Recipients, Seconds: runs[1],
			Note: fmt.Sprintf("p50 of %.2f/%.2f/%.2f s from %s; %.2f s from proj_notices alone; period %d", runs[0], runs[1], runs[2], source, fromNotices, y)})
	}
	return nil
}

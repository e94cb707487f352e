package compliance_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/compliance"
	"github.com/courrier-dev/courrier/ledger"
)

// seedScale inserts beneficiaries, five notices each (two personalised, three
// general mailings, spread over two years, 10 % never delivered) with their
// deliveries, and one request with acknowledgement and answer for every
// fifth beneficiary.
func seedScale(b *testing.B, f *fx, beneficiaries int) {
	_, err := f.pool.Exec(f.ctx, `
		INSERT INTO recipients (ref, joined_at)
		SELECT lpad(i::text, 8, '0'), timestamptz '2020-01-01' + (i % 2000) * interval '1 day'
		FROM generate_series(1, $1) i`, beneficiaries)
	require.NoError(b, err)
	_, err = f.pool.Exec(f.ctx, `
		INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, state, created_at, sent_at, delivered_at)
		SELECT r.id, k.kind, k.kind, 'b-' || r.id || '-' || k.n, CASE WHEN (r.id + k.n) % 10 = 0 THEN 'sent' ELSE 'delivered' END,
		       t, t, CASE WHEN (r.id + k.n) % 10 = 0 THEN NULL ELSE t + interval '2 hours' END
		FROM recipients r
		CROSS JOIN (VALUES (1, 'rights_changed'), (2, 'yearly_statement'), (3, 'general_information'),
		                   (4, 'general_information'), (5, 'general_information')) AS k(n, kind)
		CROSS JOIN LATERAL (SELECT timestamptz '2027-01-01' + ((r.id * 7 + k.n * 113) % 730) * interval '1 day' AS t) AS tt`)
	require.NoError(b, err)
	_, err = f.pool.Exec(f.ctx, `
		INSERT INTO deliveries (notice_id, channel, provider, address, content_hash, state, attempt, created_at, sent_at, final_at)
		SELECT id, 'email', (ARRAY['smtp', 'twilio', 'print'])[1 + id % 3], 'x@example.fr', 'h', CASE WHEN delivered_at IS NULL THEN 'sent' ELSE 'delivered' END,
		       1, created_at, created_at, delivered_at
		FROM notices`)
	require.NoError(b, err)
	_, err = f.pool.Exec(f.ctx, `
		INSERT INTO requests (external_id, recipient_id, kind, minimum_income, received_at, ack_due_by, answer_due_by, ack_notice_id, answer_notice_id)
		SELECT 'q' || r.id, r.id, CASE WHEN r.id % 50 = 0 THEN 'complaint' ELSE 'benefit_claim' END, r.id % 7 = 0,
		       n.created_at - (r.id % 20) * interval '1 day', n.created_at, n.created_at, n.id, n.id
		FROM recipients r JOIN notices n ON n.recipient_id = r.id AND n.kind = 'rights_changed'
		WHERE r.id % 5 = 0`)
	require.NoError(b, err)
	// The reports read what the sealed events establish.
	_, err = f.pool.Exec(f.ctx, `
		INSERT INTO delivery_events (delivery_id, notice_id, event, detail, occurred_at, facts)
		SELECT d.id, d.notice_id, 'delivered', 'bench', d.final_at, jsonb_build_object('channel', d.channel, 'provider', d.provider,
		       'evidence', CASE d.provider WHEN 'smtp' THEN 'smtp_accepted' WHEN 'twilio' THEN 'twilio_delivered' ELSE 'print_handed' END)
		FROM deliveries d WHERE d.final_at IS NOT NULL ORDER BY d.id`)
	require.NoError(b, err)
	_, err = ledger.Seal(f.ctx, f.pool, ledger.SealOptions{Key: testKey, Batch: 50000, Settle: time.Nanosecond})
	require.NoError(b, err)
	_, err = f.pool.Exec(f.ctx, `ANALYZE`)
	require.NoError(b, err)
}

// BenchmarkReports measures each rule over one year on 20,000 beneficiaries
// and 100,000 notices: go test -run - -bench Reports ./compliance/
func BenchmarkReports(b *testing.B) {
	f := setup(b)
	seedScale(b, f, 20000)
	p, err := compliance.ParsePeriod("2028-01-01", "2028-12-31")
	require.NoError(b, err)
	for _, rule := range compliance.RuleNames() {
		b.Run(rule, func(b *testing.B) {
			for b.Loop() {
				rep, err := compliance.Run(f.ctx, f.pool, rule, p)
				require.NoError(b, err)
				require.NotEmpty(b, rep.Metrics)
			}
		})
	}
}

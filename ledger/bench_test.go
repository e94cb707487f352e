package ledger_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/ledger"
)

// BenchmarkLedgerBatch measures recording a campaign batch of 200 messages:
// the attempts (delivery rows and sending events) and the acceptances (one
// delivered event each), as the deliver_batch worker writes them.
func BenchmarkLedgerBatch(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.New(b)
	const size = 200
	var rid int64
	require.NoError(b, pool.QueryRow(ctx, `INSERT INTO recipients (ref) VALUES ('B1') RETURNING id`).Scan(&rid))
	b.ReportAllocs()
	batch := 0
	for b.Loop() {
		batch++
		ids := benchNotices(ctx, b, pool, rid, fmt.Sprintf("b%d:", batch), size)
		now := time.Now()
		attempts := make([]ledger.Attempt, len(ids))
		for i, id := range ids {
			attempts[i] = ledger.Attempt{NoticeID: id, Channel: "email", Provider: "smtp", Address: "a@exemple.fr",
				TemplateVersion: "v", Content: ledger.Content{Subject: "Objet", Text: "Bonjour", HTML: "<p>Bonjour</p>"}, At: now}
		}
		tx, err := pool.Begin(ctx)
		require.NoError(b, err)
		dids, err := ledger.StartAttempts(ctx, tx, attempts, false)
		require.NoError(b, err)
		require.NoError(b, tx.Commit(ctx))
		acc := make([]ledger.Acceptance, len(ids))
		for i := range ids {
			acc[i] = ledger.Acceptance{DeliveryID: dids[i], NoticeID: ids[i], Channel: "email", MessageID: fmt.Sprintf("<m%d>", dids[i]),
				Delivered: true, Evidence: "smtp_accepted"}
		}
		tx, err = pool.Begin(ctx)
		require.NoError(b, err)
		require.NoError(b, ledger.AcceptMany(ctx, tx, acc, now))
		require.NoError(b, tx.Commit(ctx))
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "messages/s")
}

// seedSealed records about n events (a third each: notice created,
// sending, delivered, with their facts) and seals them, reporting the
// sealing rate.
func seedSealed(b *testing.B, n int) (*pgxpool.Pool, *ledger.Key) {
	ctx := context.Background()
	pool := pgtest.New(b)
	notices := n / 3
	for _, sql := range []string{
		`INSERT INTO recipients (ref, caf) SELECT lpad(i::text, 8, '0'), (ARRAY['751', '974'])[1 + i % 2] FROM generate_series(1, $1::int / 4 + 1) i`,
		`INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, state)
		 SELECT 1 + i % ($1::int / 4 + 1), 'general_information', 'general_information', 'v' || i, 'delivered' FROM generate_series(1, $1::int) i`,
		`INSERT INTO deliveries (notice_id, channel, provider, address, content_hash, template_version, state, attempt)
		 SELECT id, 'email', 'smtp', 'a@example.fr', md5(id::text) || md5(id::text), 'v1', 'delivered', 1 FROM notices WHERE $1::int > 0`,
		`INSERT INTO delivery_events (delivery_id, notice_id, event, detail, facts)
		 SELECT id, notice_id, 'sending', 'attempt 1 via smtp', jsonb_build_object('channel', 'email', 'provider', 'smtp',
		        'template_version', 'v1', 'content_hash', content_hash, 'address_masked', 'a*****@e*****.fr')
		 FROM deliveries WHERE $1::int > 0 ORDER BY id`,
		`INSERT INTO delivery_events (delivery_id, notice_id, event, detail, facts)
		 SELECT id, notice_id, 'delivered', 'smtp_accepted', jsonb_build_object('channel', 'email', 'provider', 'smtp',
		        'provider_message_id', '<m' || id || '>', 'accepted_as', 'smtp_accepted', 'evidence', 'smtp_accepted')
		 FROM deliveries WHERE $1::int > 0 ORDER BY id`,
		`UPDATE notices n SET delivered_at = e.occurred_at FROM delivery_events e
		 WHERE e.notice_id = n.id AND e.event = 'delivered' AND $1::int > 0`,
	} {
		_, err := pool.Exec(ctx, sql, notices)
		require.NoError(b, err)
	}
	_, err := pool.Exec(ctx, `ANALYZE`)
	require.NoError(b, err)
	priv, _, err := ledger.GenerateKey("courrier-bench")
	require.NoError(b, err)
	key, err := ledger.ParseKey(priv)
	require.NoError(b, err)
	start := time.Now()
	sealed, err := ledger.Seal(ctx, pool, ledger.SealOptions{Key: key, Batch: 50000, Settle: time.Nanosecond})
	require.NoError(b, err)
	b.Logf("sealed %d events in %s: %.0f events/s", sealed, time.Since(start).Round(time.Millisecond), float64(sealed)/time.Since(start).Seconds())
	return pool, key
}

// BenchmarkVerify measures `courrier verify` over a sealed ledger of
// COURRIER_BENCH_EVENTS events (default 100,000):
//
//	COURRIER_BENCH_EVENTS=1000000 go test -run - -bench Verify -benchtime 1x ./ledger/
func BenchmarkVerify(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("COURRIER_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	pool, key := seedSealed(b, n)
	ctx := context.Background()
	b.ResetTimer()
	var events int64
	for b.Loop() {
		res, err := ledger.Verify(ctx, pool, ledger.VerifyOptions{Verifier: key.Verifier})
		require.NoError(b, err)
		require.True(b, res.OK, "%v", res.Breaks)
		events = res.Events
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAcceptGroups measures recording acceptances as the batch
// worker's group commit does: groups of COURRIER_BENCH_GROUP (default 8)
// acceptances, each group one courrier_accept_many call in its own
// implicit transaction (one commit), on a pool. The attempts are recorded
// outside the timer.
func BenchmarkAcceptGroups(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.New(b)
	group := 8
	if v, err := strconv.Atoi(os.Getenv("COURRIER_BENCH_GROUP")); err == nil && v > 0 {
		group = v
	}
	var rid int64
	require.NoError(b, pool.QueryRow(ctx, `INSERT INTO recipients (ref) VALUES ('B1') RETURNING id`).Scan(&rid))
	batch := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		batch++
		ids := benchNotices(ctx, b, pool, rid, fmt.Sprintf("g%d:", batch), group)
		now := time.Now()
		attempts := make([]ledger.Attempt, len(ids))
		for i, id := range ids {
			attempts[i] = ledger.Attempt{NoticeID: id, Channel: "email", Provider: "smtp", Address: "a@exemple.fr",
				TemplateVersion: "v", Content: ledger.Content{Subject: "Objet", Text: "Bonjour"}, At: now}
		}
		dids, err := ledger.StartAttempts(ctx, pool, attempts, false)
		require.NoError(b, err)
		acc := make([]ledger.Acceptance, len(ids))
		for i := range ids {
			acc[i] = ledger.Acceptance{DeliveryID: dids[i], NoticeID: ids[i], Channel: "email", Provider: "smtp",
				MessageID: fmt.Sprintf("<m%d>", dids[i]), Delivered: true, Evidence: "smtp_accepted: 250 2.0.0 Ok: queued as X",
				RelayReply: "250 2.0.0 Ok: queued as X"}
		}
		b.StartTimer()
		require.NoError(b, ledger.AcceptMany(ctx, pool, acc, now))
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*group), "µs/message")
}

// benchNotices creates n general-information notices of recipient rid, with
// idempotency keys prefix1…prefixN, and returns their ids.
func benchNotices(ctx context.Context, b *testing.B, pool *pgxpool.Pool, rid int64, prefix string, n int) []int64 {
	rows, err := pool.Query(ctx, `
		INSERT INTO notices (recipient_id, kind, template_key, idempotency_key)
		SELECT $1, 'general_information', 'general_information', $2 || g FROM generate_series(1, $3) g RETURNING id`,
		rid, prefix, n)
	require.NoError(b, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(b, err)
	return ids
}

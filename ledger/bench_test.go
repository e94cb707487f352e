package ledger_test

import (
	"context"
	"fmt"
	"testing"
	"time"

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
		rows, err := pool.Query(ctx, `
			INSERT INTO notices (recipient_id, kind, template_key, idempotency_key)
			SELECT $1, 'general_information', 'general_information', $2 || g FROM generate_series(1, $3) g RETURNING id`,
			rid, fmt.Sprintf("b%d:", batch), size)
		require.NoError(b, err)
		var ids []int64
		for rows.Next() {
			var id int64
			require.NoError(b, rows.Scan(&id))
			ids = append(ids, id)
		}
		rows.Close()
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

package ledger

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

// seedTimeline gives beneficiary ref 500 notices, each with an SMS that
// failed and an email delivered (two deliveries, five ledger events), among
// others notices of other beneficiaries; it returns the beneficiary's id.
func seedTimeline(b *testing.B, db *pgxpool.Pool, others int) int64 {
	b.Helper()
	ctx := context.Background()
	var rid int64
	if err := db.QueryRow(ctx, `INSERT INTO recipients (ref) VALUES ('T500') RETURNING id`).Scan(&rid); err != nil {
		b.Fatal(err)
	}
	for _, sql := range []string{
		`INSERT INTO recipients (ref) SELECT 'O' || g FROM generate_series(1, 1000) g`,
		`INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, state, channel)
		 SELECT CASE WHEN g <= 500 THEN $1 ELSE $1 + 1 + g % 1000 END, 'reminder_generic', 'reminder_generic', 'k' || g, 'delivered', 'email'
		 FROM generate_series(1, 500 + $2::int) g`,
		`INSERT INTO deliveries (notice_id, channel, provider, provider_message_id, state, attempt)
		 SELECT n.id, c.ch, c.p, c.p || n.id, c.st, 1 FROM notices n,
		        (VALUES ('sms', 'twilio', 'failed'), ('email', 'smtp', 'delivered')) c(ch, p, st)`,
		`INSERT INTO delivery_events (delivery_id, notice_id, event, provider_status)
		 SELECT d.id, d.notice_id, e.ev, e.ps FROM deliveries d,
		        (VALUES ('sending', ''), ('sent', 'queued'), ('failed', 'undelivered')) e(ev, ps)
		 WHERE d.channel = 'sms'
		 UNION ALL
		 SELECT d.id, d.notice_id, e.ev, e.ps FROM deliveries d, (VALUES ('sending', ''), ('delivered', '250 OK')) e(ev, ps)
		 WHERE d.channel = 'email'`,
		`ANALYZE`,
	} {
		var err error
		switch {
		case strings.HasPrefix(sql, "INSERT INTO notices"):
			_, err = db.Exec(ctx, sql, rid, others)
		default:
			_, err = db.Exec(ctx, sql)
		}
		if err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
	return rid
}

// BenchmarkTimeline500 loads a 500-notice timeline (notices, deliveries,
// events: three queries) among 100,000 other notices and reports p50/p99.
// Target (with the page rendered, see console's benchmark): < 200 ms.
func BenchmarkTimeline500(b *testing.B) {
	db := pgtest.New(b)
	rid := seedTimeline(b, db, 100_000)
	ctx := context.Background()
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		entries, _, err := Timeline(ctx, db, rid, &TimelineOpts{Limit: 500})
		if err != nil || len(entries) != 500 || len(entries[0].Events) != 6 { // 5 delivery events and the notice_created event
			b.Fatalf("timeline: %d entries, err %v", len(entries), err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
}

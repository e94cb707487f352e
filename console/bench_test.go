package console

import (
	"context"
	"io"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/courrier-dev/courrier/staff"
)

// BenchmarkRecipientPage500 renders the beneficiary page of someone with
// 500 notices (two deliveries and five ledger events each), through HTTP
// with a logged-in agent's session, and reports p50/p99. Target: < 200 ms.
func BenchmarkRecipientPage500(b *testing.B) {
	bb := setupBench(b)
	ctx := context.Background()
	_, err := bb.pool.Exec(ctx, `
		WITH n AS (
		    INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, state, channel)
		    SELECT r.id, 'reminder_generic', 'reminder_generic', 'b' || g, 'delivered', 'email'
		    FROM recipients r, generate_series(1, 500) g WHERE r.ref = '1234567' RETURNING id
		), d AS (
		    INSERT INTO deliveries (notice_id, channel, provider, provider_message_id, state, attempt)
		    SELECT n.id, c.ch, c.p, c.p || n.id, c.st, 1 FROM n,
		           (VALUES ('sms', 'twilio', 'failed'), ('email', 'smtp', 'delivered')) c(ch, p, st)
		    RETURNING id, notice_id, channel
		)
		INSERT INTO delivery_events (delivery_id, notice_id, event, provider_status)
		SELECT d.id, d.notice_id, e.ev, e.ps FROM d, (VALUES ('sending', ''), ('sent', 'queued'), ('failed', 'undelivered')) e(ev, ps)
		WHERE d.channel = 'sms'
		UNION ALL
		SELECT d.id, d.notice_id, e.ev, e.ps FROM d, (VALUES ('sending', ''), ('delivered', '250 OK')) e(ev, ps) WHERE d.channel = 'email'`)
	if err != nil {
		b.Fatal(err)
	}
	acct := bb.acct["agent"]
	code, _ := staff.Code(acct.TOTPSecret, time.Now())
	s, err := staff.Login(ctx, bb.pool, acct.Account.Login, acct.Password, code, time.Now(), staff.Policy{})
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest("GET", bb.srv.URL+"/console/recipients/1234567", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: s.Token})
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || n < 500*200 {
			b.Fatalf("status %d, %d bytes", res.StatusCode, n)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
}

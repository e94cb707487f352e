package ledger_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/ledger"
)

type sealBundle struct {
	pool *pgxpool.Pool
	ctx  context.Context
}

func sealSetup(t *testing.T, notices int) sealBundle {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.New(t)
	_, err := pool.Exec(ctx, `INSERT INTO recipients (ref, email) VALUES ('R0001', 'claire@example.fr')`)
	require.NoError(t, err)
	at := time.Date(2028, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range notices {
		var nid int64
		err := pool.QueryRow(ctx, `
			INSERT INTO notices (recipient_id, kind, template_key, idempotency_key)
			SELECT id, 'rights_opened', 'rights_opened', $1 FROM recipients WHERE ref = 'R0001' RETURNING id`,
			fmt.Sprintf("k%d", i)).Scan(&nid)
		require.NoError(t, err)
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		did, _, err := ledger.StartAttempt(ctx, tx, ledger.Attempt{NoticeID: nid, Channel: "email", Provider: "smtp",
			Address: "claire@example.fr", TemplateVersion: "abc", Content: ledger.Content{Subject: "Vos droits", Text: "Bonjour"}, At: at})
		require.NoError(t, err)
		_, err = ledger.Accepted(ctx, tx, did, nid, fmt.Sprintf("<m%d@courrier>", i), true, "smtp_accepted", at.Add(time.Second))
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
	}
	return sealBundle{pool: pool, ctx: ctx}
}

// settle makes every event old enough to be sealed, as a superuser could:
// recorded_at is set by trigger, so the test rewrites it with triggers off.
func (b sealBundle) settle(t *testing.T) {
	t.Helper()
	b.asSuperuser(t, `UPDATE delivery_events SET recorded_at = recorded_at - interval '1 minute'`)
}

func (b sealBundle) asSuperuser(t *testing.T, sql string, args ...any) {
	t.Helper()
	conn, err := b.pool.Acquire(b.ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(b.ctx, `SET session_replication_role = replica`)
	require.NoError(t, err)
	_, err = conn.Exec(b.ctx, sql, args...)
	require.NoError(t, err)
	_, err = conn.Exec(b.ctx, `SET session_replication_role = origin`)
	require.NoError(t, err)
}

func (b sealBundle) verify(t *testing.T) *ledger.VerifyResult {
	t.Helper()
	res, err := ledger.Verify(b.ctx, b.pool)
	require.NoError(t, err)
	return res
}

func TestAppendOnlyRefusedByDatabase(t *testing.T) {
	t.Parallel()
	b := sealSetup(t, 1)
	_, err := b.pool.Exec(b.ctx, `UPDATE delivery_events SET detail = 'x'`)
	require.ErrorContains(t, err, "append-only")
	_, err = b.pool.Exec(b.ctx, `DELETE FROM delivery_events`)
	require.ErrorContains(t, err, "append-only")
	_, err = b.pool.Exec(b.ctx, `TRUNCATE delivery_events CASCADE`)
	require.ErrorContains(t, err, "append-only")

	b.settle(t)
	_, err = ledger.Seal(b.ctx, b.pool, 0)
	require.NoError(t, err)
	for table, col := range map[string]string{"ledger_chain": "hash", "ledger_seals": "head_hash"} {
		_, err = b.pool.Exec(b.ctx, `UPDATE `+table+` SET `+col+` = `+col)
		require.ErrorContains(t, err, "append-only", table)
		_, err = b.pool.Exec(b.ctx, `DELETE FROM `+table)
		require.ErrorContains(t, err, "append-only", table)
	}
}

func TestEventsHoldNoContactDetails(t *testing.T) {
	t.Parallel()
	b := sealSetup(t, 1)
	var nid, did int64
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT notice_id, id FROM deliveries LIMIT 1`).Scan(&nid, &did))
	require.NoError(t, ledger.AppendEvent(b.ctx, b.pool, ledger.Event{DeliveryID: did, NoticeID: nid, Event: "bounced",
		Detail: "550 5.1.1 <claire.martin@example.fr>: unknown user; sms to +33612345678 or 06 12 34 56 78"}))
	var detail string
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT detail FROM delivery_events WHERE event = 'bounced'`).Scan(&detail))
	require.Equal(t, "550 5.1.1 <[email]>: unknown user; sms to [phone] or [phone]", detail)
}

func TestSealAndVerifyCleanChain(t *testing.T) {
	t.Parallel()
	b := sealSetup(t, 5) // 2 events each: sending, delivered
	res := b.verify(t)
	require.True(t, res.OK)
	require.EqualValues(t, 0, res.Events)
	require.EqualValues(t, 10, res.Unsealed)

	// Fresh events are not sealed yet: they may still be overtaken.
	n, err := ledger.Seal(b.ctx, b.pool, 4)
	require.NoError(t, err)
	require.Zero(t, n)

	b.settle(t)
	n, err = ledger.Seal(b.ctx, b.pool, 4)
	require.NoError(t, err)
	require.Equal(t, 10, n)
	var seals int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM ledger_seals`).Scan(&seals))
	require.Equal(t, 3, seals)

	res = b.verify(t)
	require.True(t, res.OK, "%v", res.Break)
	require.EqualValues(t, 10, res.Events)
	require.EqualValues(t, 3, res.Seals)
	require.Zero(t, res.Unsealed)

	n, err = ledger.Seal(b.ctx, b.pool, 4)
	require.NoError(t, err)
	require.Zero(t, n)
}

func sealed(t *testing.T, n int) sealBundle {
	b := sealSetup(t, n)
	b.settle(t)
	_, err := ledger.Seal(b.ctx, b.pool, 0)
	require.NoError(t, err)
	require.True(t, b.verify(t).OK)
	return b
}

func TestVerifyDetectsModifiedEvent(t *testing.T) {
	t.Parallel()
	b := sealed(t, 3)
	b.asSuperuser(t, `UPDATE delivery_events SET occurred_at = occurred_at - interval '3 days' WHERE id = (SELECT min(id) + 4 FROM delivery_events)`)
	res := b.verify(t)
	require.False(t, res.OK)
	require.Equal(t, ledger.BreakModified, res.Break.Kind)
	require.EqualValues(t, 5, res.Break.Position)
}

func TestVerifyDetectsDeletedEvent(t *testing.T) {
	t.Parallel()
	b := sealed(t, 3)
	b.asSuperuser(t, `DELETE FROM delivery_events WHERE id = (SELECT min(id) + 2 FROM delivery_events)`)
	res := b.verify(t)
	require.False(t, res.OK)
	require.Equal(t, ledger.BreakDeleted, res.Break.Kind)
	require.EqualValues(t, 3, res.Break.Position)

	// Deleting the chain row too leaves a gap in positions.
	b2 := sealed(t, 3)
	b2.asSuperuser(t, `DELETE FROM ledger_chain WHERE position = 3`)
	b2.asSuperuser(t, `DELETE FROM delivery_events WHERE id = (SELECT min(id) + 2 FROM delivery_events)`)
	res = b2.verify(t)
	require.False(t, res.OK)
	require.Equal(t, ledger.BreakDeleted, res.Break.Kind)
	require.EqualValues(t, 3, res.Break.Position)
}

func TestVerifyDetectsInsertedEvent(t *testing.T) {
	t.Parallel()
	b := sealed(t, 3)
	forge := func(id int64, from int64) {
		b.asSuperuser(t, `
			INSERT INTO delivery_events (id, delivery_id, notice_id, event, detail, occurred_at, recorded_at)
			SELECT $1, delivery_id, notice_id, 'delivered', 'forged', occurred_at, recorded_at
			FROM delivery_events WHERE id = $2`, id, from)
	}
	var minID, maxID int64
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT min(id), max(id) FROM delivery_events`).Scan(&minID, &maxID))

	// Above the head, an event is only waiting for the next seal.
	forge(maxID+100, maxID)
	res := b.verify(t)
	require.True(t, res.OK)
	require.EqualValues(t, 1, res.Unsealed)

	// Below the head, it was slipped into a sealed range.
	forge(minID-1, minID)
	res = b.verify(t)
	require.False(t, res.OK)
	require.Equal(t, ledger.BreakInserted, res.Break.Kind)
	require.Equal(t, minID-1, res.Break.EventID)
}

func TestVerifyDetectsSealMismatch(t *testing.T) {
	t.Parallel()
	b := sealed(t, 2)
	b.asSuperuser(t, `UPDATE ledger_seals SET head_hash = sha256('forged')`)
	res := b.verify(t)
	require.False(t, res.OK)
	require.Equal(t, ledger.BreakSeal, res.Break.Kind)
}

func TestVerifyPassesAfterPurge(t *testing.T) {
	t.Parallel()
	b := sealed(t, 4)
	var hash string
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT content_hash FROM deliveries LIMIT 1`).Scan(&hash))
	n, err := ledger.Purge(b.ctx, b.pool, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Equal(t, 4, n)
	var left int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM deliveries WHERE content IS NOT NULL OR address <> '' OR content_hash = ''`).Scan(&left))
	require.Zero(t, left)
	require.True(t, b.verify(t).OK)

	n, err = ledger.Purge(b.ctx, b.pool, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestPurgeKeepsRecentDeliveries(t *testing.T) {
	t.Parallel()
	b := sealSetup(t, 2)
	n, err := ledger.Purge(b.ctx, b.pool, time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestEncodeEventIsFixed(t *testing.T) {
	t.Parallel()
	e := ledger.Event{ID: 1, DeliveryID: 2, NoticeID: 3, Event: "delivered", Detail: "a<b>&c",
		OccurredAt: time.Date(2028, 2, 29, 23, 0, 0, 123456000, time.FixedZone("CET", 3600)),
		RecordedAt: time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC)}
	require.Equal(t, `{"id":1,"delivery_id":2,"notice_id":3,"event":"delivered","provider_status":"","error_code":"","detail":"a<b>&c","occurred_at":"2028-02-29T22:00:00.123456Z","recorded_at":"2028-03-01T00:00:00Z"}`,
		string(ledger.EncodeEvent(e)))
}

func TestConcurrentSealersDoNotRace(t *testing.T) {
	t.Parallel()
	b := sealSetup(t, 10)
	b.settle(t)
	done := make(chan int, 3)
	for range 3 {
		go func() {
			n, err := ledger.Seal(b.ctx, b.pool, 2)
			if err != nil {
				n = -1000
			}
			done <- n
		}()
	}
	total := 0
	for range 3 {
		total += <-done
	}
	n, err := ledger.Seal(b.ctx, b.pool, 2)
	require.NoError(t, err)
	require.Equal(t, 20, total+n)
	res := b.verify(t)
	require.True(t, res.OK, "%v", res.Break)
	require.EqualValues(t, 20, res.Events)
}

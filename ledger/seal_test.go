package ledger_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/ledger"
)

// testKey signs every test ledger; otherKey is an attacker's.
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

type sealBundle struct {
	pool *pgxpool.Pool
	ctx  context.Context
}

func sealSetup(t *testing.T, notices int) sealBundle {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.New(t)
	_, err := pool.Exec(ctx, `INSERT INTO recipients (ref, email, caf) VALUES ('R0001', 'claire@example.fr', '751')`)
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
		_, err = tx.Exec(ctx, `UPDATE notices SET state = 'delivered', delivered_at = $2 WHERE id = $1`, nid, at.Add(time.Second))
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
	}
	return sealBundle{pool: pool, ctx: ctx}
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

func (b sealBundle) seal(t *testing.T, batch int) int {
	t.Helper()
	n, err := ledger.Seal(b.ctx, b.pool, ledger.SealOptions{Key: testKey, Batch: batch, Settle: time.Nanosecond})
	require.NoError(t, err)
	return n
}

func (b sealBundle) verify(t *testing.T, witnesses ...string) *ledger.VerifyResult {
	t.Helper()
	res, err := ledger.Verify(b.ctx, b.pool, ledger.VerifyOptions{Verifier: testKey.Verifier, Witnesses: witnesses})
	require.NoError(t, err)
	return res
}

// requireBreak asserts that verification failed with a break of kind whose
// message contains every one of words.
func requireBreak(t *testing.T, res *ledger.VerifyResult, kind string, words ...string) ledger.Break {
	t.Helper()
	require.False(t, res.OK)
	for _, b := range res.Breaks {
		if b.Kind != kind {
			continue
		}
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(b.String(), w)
		}
		if ok {
			return b
		}
	}
	require.Failf(t, "break not found", "want %s with %q in %v", kind, words, res.Breaks)
	return ledger.Break{}
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

	b.seal(t, 0)
	for table, col := range map[string]string{"ledger_leaves": "event_id", "ledger_tree": "hash", "ledger_checkpoints": "note"} {
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
	var detail, facts string
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT detail FROM delivery_events WHERE event = 'bounced'`).Scan(&detail))
	require.NotContains(t, detail, "claire")
	require.NotContains(t, detail, "612345678")
	require.NotContains(t, detail, "12 34 56")
	require.Contains(t, detail, "550 5.1.1")
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT facts::text FROM delivery_events WHERE event = 'sending'`).Scan(&facts))
	require.Contains(t, facts, `"address_masked": "c*****@e*****.fr"`)
	require.NotContains(t, facts, "claire@")
}

func TestEventsCarryTheFactsReportsNeed(t *testing.T) {
	t.Parallel()
	b := sealSetup(t, 1)
	var created, sending, delivered map[string]string
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT facts FROM delivery_events WHERE event = 'notice_created'`).Scan(&created))
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT facts FROM delivery_events WHERE event = 'sending'`).Scan(&sending))
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT facts FROM delivery_events WHERE event = 'delivered'`).Scan(&delivered))
	require.Equal(t, "rights_opened", created["kind"])
	require.Equal(t, "R0001", created["recipient"])
	require.Equal(t, "751", created["caf"])
	require.Equal(t, "false", created["test"])
	require.Equal(t, ledger.Content{Subject: "Vos droits", Text: "Bonjour"}.Hash(), sending["content_hash"])
	require.Equal(t, "abc", sending["template_version"])
	require.Equal(t, "email", sending["channel"])
	require.Equal(t, "smtp_accepted", delivered["evidence"])
	require.Equal(t, "<m0@courrier>", delivered["provider_message_id"])
}

func TestSealAndVerifyCleanTree(t *testing.T) {
	t.Parallel()
	b := sealSetup(t, 5) // 3 events each: notice_created, sending, delivered
	res := b.verify(t)
	require.True(t, res.OK, "%v", res.Breaks)
	require.EqualValues(t, 0, res.Events)
	require.EqualValues(t, 15, res.Unsealed)

	// Fresh events wait the settle time: they may still be overtaken.
	n, err := ledger.Seal(b.ctx, b.pool, ledger.SealOptions{Key: testKey, Settle: time.Hour})
	require.NoError(t, err)
	require.Zero(t, n)

	require.Equal(t, 15, b.seal(t, 4))
	var checkpoints int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM ledger_checkpoints`).Scan(&checkpoints))
	require.Equal(t, 4, checkpoints)

	res = b.verify(t)
	require.True(t, res.OK, "%v", res.Breaks)
	require.EqualValues(t, 15, res.Events)
	require.EqualValues(t, 4, res.Checkpoints)
	require.EqualValues(t, 5, res.Notices)
	require.EqualValues(t, 15, res.TreeSize)
	require.Zero(t, res.Unsealed)
	require.Zero(t, b.seal(t, 4))

	// The projection holds what the events say.
	var kind, level, recipient string
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT kind, weak_level, recipient FROM proj_notices LIMIT 1`).Scan(&kind, &level, &recipient))
	require.Equal(t, []string{"rights_opened", "smtp_accepted", "R0001"}, []string{kind, level, recipient})

	// Every leaf has an inclusion proof to the latest checkpoint.
	cp, err := ledger.LatestCheckpoint(b.ctx, b.pool)
	require.NoError(t, err)
	opened, err := ledger.OpenCheckpoint(cp.Note, testKey.Verifier)
	require.NoError(t, err)
	require.EqualValues(t, 15, opened.Size)
	for i := range uint64(15) {
		p, err := ledger.InclusionProof(b.ctx, b.pool, i, 15)
		require.NoError(t, err)
		var eid int64
		require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT event_id FROM ledger_leaves WHERE idx = $1`, i).Scan(&eid))
		evs, err := ledger.EventsByID(b.ctx, b.pool, []int64{eid})
		require.NoError(t, err)
		require.NoError(t, ledger.VerifyInclusion(i, 15, ledger.EncodeEvent(evs[0]), p, opened.RootHash))
	}
}

func sealed(t *testing.T, n int) sealBundle {
	b := sealSetup(t, n)
	b.seal(t, 0)
	res := b.verify(t)
	require.True(t, res.OK, "%v", res.Breaks)
	return b
}

func TestConcurrentSealersDoNotRace(t *testing.T) {
	t.Parallel()
	b := sealSetup(t, 10)
	done := make(chan int, 3)
	for range 3 {
		go func() {
			n, err := ledger.Seal(b.ctx, b.pool, ledger.SealOptions{Key: testKey, Batch: 2, Settle: time.Nanosecond})
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
	total += b.seal(t, 2)
	require.Equal(t, 30, total)
	res := b.verify(t)
	require.True(t, res.OK, "%v", res.Breaks)
	require.EqualValues(t, 30, res.Events)
}

func TestSealNeedsAKey(t *testing.T) {
	t.Parallel()
	b := sealSetup(t, 1)
	_, err := ledger.Seal(b.ctx, b.pool, ledger.SealOptions{})
	require.ErrorIs(t, err, ledger.ErrNoKey)
}

func TestPurgeKeepsTheProof(t *testing.T) {
	t.Parallel()
	b := sealed(t, 4)
	n, err := ledger.Purge(b.ctx, b.pool, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Equal(t, 4, n)
	res := b.verify(t)
	require.True(t, res.OK, "%v", res.Breaks)
	n, err = ledger.Purge(b.ctx, b.pool, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestEncodeEventIsFixed(t *testing.T) {
	t.Parallel()
	e := ledger.Event{ID: 1, DeliveryID: 2, NoticeID: 3, Event: "delivered", Detail: "a<b>&c",
		OccurredAt: time.Date(2028, 2, 29, 23, 0, 0, 123456000, time.FixedZone("CET", 3600)),
		RecordedAt: time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC),
		Facts:      map[string]string{"provider_message_id": "<m1@c>", "evidence": "smtp_accepted"}}
	enc := `{"v":2,"id":1,"delivery_id":2,"notice_id":3,"event":"delivered","provider_status":"","error_code":"","detail":"a<b>&c","occurred_at":"2028-02-29T22:00:00.123456Z","recorded_at":"2028-03-01T00:00:00Z","facts":{"evidence":"smtp_accepted","provider_message_id":"<m1@c>"}}`
	require.Equal(t, enc, string(ledger.EncodeEvent(e)))
	back, err := ledger.DecodeEvent([]byte(enc))
	require.NoError(t, err)
	require.Equal(t, enc, string(ledger.EncodeEvent(back)))
	_, err = ledger.DecodeEvent([]byte(strings.Replace(enc, `"v":2,"id":1`, `"v":2, "id":1`, 1)))
	require.ErrorContains(t, err, "canonical")
}

func TestKeysRoundTrip(t *testing.T) {
	t.Parallel()
	priv, pub, err := ledger.GenerateKey("courrier-test")
	require.NoError(t, err)
	derived, err := ledger.PublicKey(priv)
	require.NoError(t, err)
	require.Equal(t, pub, derived)

	dir := t.TempDir()
	env := map[string]string{}
	k, created, err := ledger.LoadKey(func(k string) string { return env[k] }, dir+"/ledger.key")
	require.NoError(t, err)
	require.True(t, created)
	k2, created, err := ledger.LoadKey(func(k string) string { return env[k] }, dir+"/ledger.key")
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, k.Public, k2.Public)
	env[ledger.KeyEnv] = priv
	k3, _, err := ledger.LoadKey(func(k string) string { return env[k] }, "")
	require.NoError(t, err)
	require.Equal(t, pub, k3.Public)
	_, _, err = ledger.LoadKey(func(string) string { return "" }, "")
	require.ErrorIs(t, err, ledger.ErrNoKey)
}

func TestLegacyEventsCarryTheirEvidence(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		e    ledger.Event
		want string
	}{
		{ledger.Event{Event: "delivered", Detail: "smtp_accepted"}, ledger.EvidenceSMTPAccepted},
		{ledger.Event{Event: "delivered", ProviderStatus: "delivered", Detail: "twilio receipt"}, ledger.EvidenceTwilioDelivered},
		{ledger.Event{Event: "sent", Detail: "accepted by provider"}, ""},
		{ledger.Event{Event: "delivered", Detail: "smtp_accepted", Facts: map[string]string{"provider": "smtp"}}, ""},
	} {
		require.Equal(t, c.want, ledger.EvidenceOf(c.e), c.e)
	}
}

// Email evidence as the bounce work records it: relay acceptance (weak),
// then no bounce within the wait (proven); a later bounce revokes both.
func TestBounceRevokesEvidence(t *testing.T) {
	t.Parallel()
	at := time.Date(2028, 3, 1, 9, 0, 0, 0, time.UTC)
	p := ledger.NewProjection()
	p.Apply(ledger.Event{NoticeID: 1, Event: "notice_created", Facts: map[string]string{"kind": "rights_opened"}})
	p.Apply(ledger.Event{NoticeID: 1, DeliveryID: 1, Event: "delivered", OccurredAt: at,
		Facts: map[string]string{"evidence": ledger.EvidenceSMTPAccepted, "channel": "email"}})
	p.Apply(ledger.Event{NoticeID: 1, DeliveryID: 1, Event: ledger.EventPresumedDelivered, OccurredAt: at.Add(72 * time.Hour)})
	n := p.Notices[1]
	require.Equal(t, ledger.EvidencePresumedDelivered, n.ProvenLevel)
	require.Equal(t, ledger.EvidenceSMTPAccepted, n.WeakLevel)
	p.Apply(ledger.Event{NoticeID: 1, DeliveryID: 1, Event: ledger.EventBounced, ProviderStatus: "dsn", OccurredAt: at.Add(80 * time.Hour)})
	require.Nil(t, n.ProvenAt)
	require.Nil(t, n.WeakAt)
	require.NotNil(t, n.RevokedAt)
}

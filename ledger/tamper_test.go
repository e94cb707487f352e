package ledger_test

// The tamper suite, database side: each attack of issue 15 on a sealed
// ledger, and the message `courrier verify` gives for it.

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/tsatest"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/ledger/rfc3161"
)

func firstNotice(t *testing.T, b sealBundle) (noticeID, deliveryID int64) {
	t.Helper()
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT notice_id, id FROM deliveries ORDER BY id LIMIT 1`).Scan(&noticeID, &deliveryID))
	return
}

func TestTamperNoticeDeliveredAt(t *testing.T) {
	t.Parallel()
	b := sealed(t, 2)
	nid, _ := firstNotice(t, b)
	// A plain UPDATE, no trigger bypass: notices is an operational table.
	_, err := b.pool.Exec(b.ctx, `UPDATE notices SET delivered_at = delivered_at - interval '3 days' WHERE id = $1`, nid)
	require.NoError(t, err)
	br := requireBreak(t, b.verify(t), ledger.BreakMutable, "notices.delivered_at")
	require.Equal(t, nid, br.NoticeID)
}

func TestTamperNoticeKind(t *testing.T) {
	t.Parallel()
	b := sealed(t, 2)
	nid, _ := firstNotice(t, b)
	_, err := b.pool.Exec(b.ctx, `UPDATE notices SET kind = 'yearly_statement' WHERE id = $1`, nid)
	require.NoError(t, err)
	br := requireBreak(t, b.verify(t), ledger.BreakMutable, `notices.kind is "yearly_statement"`, `"rights_opened"`)
	require.Equal(t, nid, br.NoticeID)
}

func TestTamperDeliveryContentHash(t *testing.T) {
	t.Parallel()
	b := sealed(t, 2)
	nid, did := firstNotice(t, b)
	forged := ledger.Content{Subject: "Vos droits", Text: "Autre texte"}.Hash()
	_, err := b.pool.Exec(b.ctx, `UPDATE deliveries SET content_hash = $2, content = '{"subject":"Vos droits","text":"Autre texte"}' WHERE id = $1`, did, forged)
	require.NoError(t, err)
	br := requireBreak(t, b.verify(t), ledger.BreakMutable, "deliveries.content_hash", forged)
	require.Equal(t, nid, br.NoticeID)
}

func TestTamperDeliveryStateOfNeverSentNotice(t *testing.T) {
	t.Parallel()
	b := sealed(t, 1)
	// A notice attempted but never accepted, then set delivered with a fake provider id.
	var rid, nid int64
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT id FROM recipients`).Scan(&rid))
	require.NoError(t, b.pool.QueryRow(b.ctx, `INSERT INTO notices (recipient_id, kind, template_key, idempotency_key) VALUES ($1, 'rights_changed', 'rights_changed', 'never') RETURNING id`, rid).Scan(&nid))
	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	did, _, err := ledger.StartAttempt(b.ctx, tx, ledger.Attempt{NoticeID: nid, Channel: "email", Provider: "smtp", Address: "claire@example.fr",
		TemplateVersion: "abc", Content: ledger.Content{Subject: "s"}, At: time.Now()})
	require.NoError(t, err)
	require.NoError(t, tx.Commit(b.ctx))
	b.seal(t, 0)
	require.True(t, b.verify(t).OK)

	_, err = b.pool.Exec(b.ctx, `UPDATE deliveries SET state = 'delivered', provider_message_id = '<fake@relay>', final_at = now() WHERE id = $1`, did)
	require.NoError(t, err)
	_, err = b.pool.Exec(b.ctx, `UPDATE notices SET state = 'delivered', delivered_at = now() WHERE id = $1`, nid)
	require.NoError(t, err)
	res := b.verify(t)
	requireBreak(t, res, ledger.BreakMutable, "deliveries.state", `"delivered"`, "no delivered event")
	requireBreak(t, res, ledger.BreakMutable, "notices.delivered_at", "no delivery evidence")
	// The report projection did not move.
	var proven, weak *time.Time
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT proven_at, weak_at FROM proj_notices WHERE notice_id = $1`, nid).Scan(&proven, &weak))
	require.Nil(t, proven)
	require.Nil(t, weak)
}

func TestTamperForgedDeliveredEventInsertedBelowTheHead(t *testing.T) {
	t.Parallel()
	b := sealed(t, 3)
	var minID, maxID int64
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT min(id), max(id) FROM delivery_events`).Scan(&minID, &maxID))
	// A plain INSERT with an id below the sealed head.
	_, err := b.pool.Exec(b.ctx, `
		INSERT INTO delivery_events (id, delivery_id, notice_id, event, detail, occurred_at, facts)
		SELECT $1, delivery_id, notice_id, 'delivered', 'twilio_delivered', occurred_at, '{"evidence":"twilio_delivered"}'
		FROM delivery_events WHERE id = $2`, minID-1, maxID)
	require.NoError(t, err)
	br := requireBreak(t, b.verify(t), ledger.BreakInserted, "delivered event", "inserted afterwards")
	require.Equal(t, minID-1, br.EventID)
}

func TestTamperEventUpdatedWithTriggersBypassed(t *testing.T) {
	t.Parallel()
	b := sealed(t, 3)
	var id, nid int64
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT id, notice_id FROM delivery_events WHERE event = 'delivered' ORDER BY id LIMIT 1`).Scan(&id, &nid))
	b.asSuperuser(t, `UPDATE delivery_events SET occurred_at = occurred_at - interval '3 days' WHERE id = $1`, id)
	res := b.verify(t)
	br := requireBreak(t, res, ledger.BreakModified, "delivered event no longer hashes")
	require.Equal(t, id, br.EventID)
	require.Equal(t, nid, br.NoticeID)
}

func TestTamperDeletedEvent(t *testing.T) {
	t.Parallel()
	b := sealed(t, 3)
	var id int64
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT id FROM delivery_events WHERE event = 'sending' ORDER BY id LIMIT 1`).Scan(&id))
	b.asSuperuser(t, `DELETE FROM delivery_events WHERE id = $1`, id)
	br := requireBreak(t, b.verify(t), ledger.BreakDeleted, "missing from delivery_events")
	require.Equal(t, id, br.EventID)
}

func TestTamperProjectionEdited(t *testing.T) {
	t.Parallel()
	b := sealed(t, 2)
	nid, _ := firstNotice(t, b)
	// The projection is what reports read: editing it is named.
	_, err := b.pool.Exec(b.ctx, `UPDATE proj_notices SET proven_level = 'twilio_delivered', proven_at = weak_at WHERE notice_id = $1`, nid)
	require.NoError(t, err)
	br := requireBreak(t, b.verify(t), ledger.BreakProjection, "proven delivery is twilio_delivered", "sealed events say none")
	require.Equal(t, nid, br.NoticeID)
}

// A superuser rewrites history consistently: changes an event, then
// rebuilds leaves, tree, projections and checkpoints from the changed events
// with the sealer's own code. Only the key, held outside the database,
// betrays it: the new checkpoints are signed with another key, and a
// checkpoint saved earlier (a witness) no longer matches.
func TestTamperFullConsistentRewrite(t *testing.T) {
	t.Parallel()
	b := sealed(t, 3)
	cp, err := ledger.LatestCheckpoint(b.ctx, b.pool)
	require.NoError(t, err)
	witness := cp.Note

	b.asSuperuser(t, `UPDATE delivery_events SET occurred_at = occurred_at - interval '3 days' WHERE event = 'delivered'`)
	b.asSuperuser(t, `DELETE FROM ledger_leaves; DELETE FROM ledger_tree; DELETE FROM ledger_checkpoints; DELETE FROM proj_notices; DELETE FROM proj_requests`)
	_, err = b.pool.Exec(b.ctx, `UPDATE notices SET delivered_at = delivered_at - interval '3 days'`)
	require.NoError(t, err)
	n, err := ledger.Seal(b.ctx, b.pool, ledger.SealOptions{Key: otherKey, Settle: time.Nanosecond})
	require.NoError(t, err)
	require.Equal(t, 9, n)

	// Against the attacker's own key everything is consistent…
	forged, err := ledger.Verify(b.ctx, b.pool, ledger.VerifyOptions{Verifier: otherKey.Verifier})
	require.NoError(t, err)
	require.True(t, forged.OK, "%v", forged.Breaks)
	// …but not against the ledger's key, nor the saved checkpoint.
	requireBreak(t, b.verify(t), ledger.BreakSignature, "not signed by the ledger key")
	requireBreak(t, b.verify(t, witness), ledger.BreakWitness, "witness checkpoint of size 9", "rewritten")
}

// The same rewrite, keeping the genuine signed checkpoints: their roots no
// longer match the events.
func TestTamperRewriteKeepingCheckpoints(t *testing.T) {
	t.Parallel()
	b := sealed(t, 3)
	b.asSuperuser(t, `UPDATE delivery_events SET occurred_at = occurred_at - interval '3 days' WHERE event = 'delivered'`)
	b.asSuperuser(t, `CREATE TABLE keep AS SELECT * FROM ledger_checkpoints;
		DELETE FROM ledger_leaves; DELETE FROM ledger_tree; DELETE FROM ledger_checkpoints; DELETE FROM proj_notices`)
	b.seal(t, 0)
	b.asSuperuser(t, `DELETE FROM ledger_checkpoints; INSERT INTO ledger_checkpoints SELECT * FROM keep`)
	requireBreak(t, b.verify(t), ledger.BreakTree, "signed checkpoint of size 9", "rewritten")
}

func TestTamperEventsRemovedFromTheEnd(t *testing.T) {
	t.Parallel()
	b := sealed(t, 3)
	cp, err := ledger.LatestCheckpoint(b.ctx, b.pool)
	require.NoError(t, err)
	b.asSuperuser(t, `DELETE FROM delivery_events WHERE id > (SELECT min(id) + 4 FROM delivery_events);
		DELETE FROM ledger_leaves; DELETE FROM ledger_tree; DELETE FROM ledger_checkpoints; DELETE FROM proj_notices;
		DELETE FROM deliveries WHERE notice_id > (SELECT min(id) + 1 FROM notices);
		DELETE FROM notices WHERE id > (SELECT min(id) + 1 FROM notices)`)
	b.seal(t, 0)
	requireBreak(t, b.verify(t, cp.Note), ledger.BreakWitness, "beyond the tree", "removed")
}

func TestReplayedReceiptAppendsNothing(t *testing.T) {
	t.Parallel()
	b := sealSetup(t, 0)
	var rid, nid, did int64
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT id FROM recipients`).Scan(&rid))
	require.NoError(t, b.pool.QueryRow(b.ctx, `INSERT INTO notices (recipient_id, kind, template_key, idempotency_key) VALUES ($1, 'reminder', 'reminder', 'r') RETURNING id`, rid).Scan(&nid))
	require.NoError(t, b.pool.QueryRow(b.ctx, `INSERT INTO deliveries (notice_id, channel, provider, provider_message_id, state) VALUES ($1, 'sms', 'twilio', 'SM1', 'sent') RETURNING id`, nid).Scan(&did))
	count := func() (n int) {
		require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM delivery_events WHERE delivery_id = $1`, did).Scan(&n))
		return
	}
	record := func() ledger.ReceiptOutcome {
		var out ledger.ReceiptOutcome
		require.NoError(t, pgx.BeginFunc(b.ctx, b.pool, func(tx pgx.Tx) error {
			var err error
			out, err = ledger.RecordReceipt(b.ctx, tx, ledger.Receipt{Provider: "twilio", MessageID: "SM1", Status: "delivered"})
			return err
		}))
		return out
	}
	first := record()
	require.False(t, first.Replayed)
	require.Equal(t, 1, count())
	for range 3 {
		again := record()
		require.True(t, again.Replayed)
		require.Equal(t, ledger.StateDelivered, again.State)
	}
	require.Equal(t, 1, count())
}

// Checkpoints countersigned by a real RFC 3161 authority (openssl ts); a
// token moved to another checkpoint is named.
func TestTamperTimestampTokenOfAnotherCheckpoint(t *testing.T) {
	t.Parallel()
	url, roots := tsatest.Start(t)
	b := sealSetup(t, 2)
	tsa := &rfc3161.Client{URL: url}
	n, err := ledger.Seal(b.ctx, b.pool, ledger.SealOptions{Key: testKey, TSA: tsa, Batch: 3, Settle: time.Nanosecond})
	require.NoError(t, err)
	require.Equal(t, 6, n)
	verifier := &rfc3161.Verifier{Roots: roots}
	res, err := ledger.Verify(b.ctx, b.pool, ledger.VerifyOptions{Verifier: testKey.Verifier, TSA: verifier})
	require.NoError(t, err)
	require.True(t, res.OK, "%v", res.Breaks)
	require.EqualValues(t, 2, res.Timestamps)

	b.asSuperuser(t, `UPDATE ledger_checkpoints SET tsa_token = (SELECT tsa_token FROM ledger_checkpoints WHERE tree_size = 3) WHERE tree_size = 6`)
	res, err = ledger.Verify(b.ctx, b.pool, ledger.VerifyOptions{Verifier: testKey.Verifier, TSA: verifier})
	require.NoError(t, err)
	requireBreak(t, res, ledger.BreakTimestamp, "checkpoint of size 6", "for other data")
}

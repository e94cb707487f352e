package ledger

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

type receiptFixture struct {
	db         *pgxpool.Pool
	noticeID   int64
	deliveryID int64
}

// setupReceipt inserts a recipient, a notice and an SMS delivery in state
// with message id sid ("" for none yet).
func setupReceipt(t *testing.T, state, sid string) receiptFixture {
	t.Helper()
	db := pgtest.New(t)
	ctx := context.Background()
	var f receiptFixture
	f.db = db
	var rid int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO recipients (ref, phone) VALUES ('R1', '+33612345678') RETURNING id`).Scan(&rid))
	require.NoError(t, db.QueryRow(ctx, `
		INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, state)
		VALUES ($1, 'reminder', 'reminder', 'k1', 'sending') RETURNING id`, rid).Scan(&f.noticeID))
	require.NoError(t, db.QueryRow(ctx, `
		INSERT INTO deliveries (notice_id, channel, provider, address, provider_message_id, state, attempt, sending_at, sent_at)
		VALUES ($1, 'sms', 'twilio', '+33612345678', nullif($2, ''), $3, 1, now() - interval '1 minute',
		        CASE WHEN $3 = 'sent' THEN now() END)
		RETURNING id`, f.noticeID, sid, state).Scan(&f.deliveryID))
	return f
}

func (f receiptFixture) record(t *testing.T, r Receipt) ReceiptOutcome {
	t.Helper()
	var out ReceiptOutcome
	err := pgx.BeginFunc(context.Background(), f.db, func(tx pgx.Tx) error {
		var err error
		out, err = RecordReceipt(context.Background(), tx, r)
		return err
	})
	require.NoError(t, err)
	return out
}

type deliveryRow struct {
	State, SID, ErrorCode string
	Final                 bool
}

func (f receiptFixture) delivery(t *testing.T) deliveryRow {
	t.Helper()
	var d deliveryRow
	require.NoError(t, f.db.QueryRow(context.Background(), `
		SELECT state, coalesce(provider_message_id, ''), error_code, final_at IS NOT NULL FROM deliveries WHERE id = $1`,
		f.deliveryID).Scan(&d.State, &d.SID, &d.ErrorCode, &d.Final))
	return d
}

func (f receiptFixture) events(t *testing.T) []string {
	t.Helper()
	rows, err := f.db.Query(context.Background(), `SELECT event || '/' || error_code FROM delivery_events WHERE delivery_id = $1 ORDER BY id`, f.deliveryID)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

func (f receiptFixture) notice(t *testing.T) (state, channel string, delivered bool) {
	t.Helper()
	require.NoError(t, f.db.QueryRow(context.Background(),
		`SELECT state, channel, delivered_at IS NOT NULL FROM notices WHERE id = $1`, f.noticeID).Scan(&state, &channel, &delivered))
	return
}

var t0 = time.Date(2025, time.March, 3, 10, 0, 0, 0, time.UTC)

func TestRecordReceiptInOrder(t *testing.T) {
	t.Parallel()
	f := setupReceipt(t, StateSent, "SM1")
	out := f.record(t, Receipt{Provider: "twilio", MessageID: "SM1", Status: "sent", OccurredAt: t0})
	require.Equal(t, ReceiptOutcome{Known: true, DeliveryID: f.deliveryID, NoticeID: f.noticeID, State: StateSent}, out)
	out = f.record(t, Receipt{Provider: "twilio", MessageID: "SM1", Status: "delivered", OccurredAt: t0.Add(time.Second)})
	require.Equal(t, StateDelivered, out.State)
	require.False(t, out.FinalFailure)

	require.Equal(t, deliveryRow{State: StateDelivered, SID: "SM1", Final: true}, f.delivery(t))
	state, channel, delivered := f.notice(t)
	require.Equal(t, "delivered", state)
	require.Equal(t, "sms", channel)
	require.True(t, delivered)
	require.Equal(t, []string{"sent/", "delivered/"}, f.events(t))
}

func TestRecordReceiptOutOfOrder(t *testing.T) {
	t.Parallel()
	f := setupReceipt(t, StateSent, "SM1")
	f.record(t, Receipt{Provider: "twilio", MessageID: "SM1", Status: "delivered", OccurredAt: t0.Add(2 * time.Second)})
	out := f.record(t, Receipt{Provider: "twilio", MessageID: "SM1", Status: "sent", OccurredAt: t0.Add(time.Second)})
	require.Equal(t, StateDelivered, out.State, "a late sent never overwrites delivered")
	out = f.record(t, Receipt{Provider: "twilio", MessageID: "SM1", Status: "queued", OccurredAt: t0})
	require.Equal(t, StateDelivered, out.State)
	require.Equal(t, StateDelivered, f.delivery(t).State)
	require.Equal(t, []string{"delivered/", "sent/", "queued/"}, f.events(t), "every receipt is in the ledger")
}

func TestRecordReceiptFinalFailure(t *testing.T) {
	t.Parallel()
	f := setupReceipt(t, StateSent, "SM1")
	out := f.record(t, Receipt{Provider: "twilio", MessageID: "SM1", Status: "undelivered", ErrorCode: "30003", OccurredAt: t0})
	require.True(t, out.FinalFailure)
	require.Equal(t, StateUndelivered, out.State)
	require.Equal(t, deliveryRow{State: StateUndelivered, SID: "SM1", ErrorCode: "30003", Final: true}, f.delivery(t))

	// A second final receipt changes nothing and is not a new failure.
	out = f.record(t, Receipt{Provider: "twilio", MessageID: "SM1", Status: "failed", ErrorCode: "30008", OccurredAt: t0.Add(time.Second)})
	require.False(t, out.FinalFailure)
	require.Equal(t, StateUndelivered, out.State)
	state, _, _ := f.notice(t)
	require.Equal(t, "sending", state, "the caller moves the notice on, not RecordReceipt")
	require.Equal(t, []string{"undelivered/30003", "failed/30008"}, f.events(t))
}

func TestRecordReceiptByDeliveryBeforeSIDCommitted(t *testing.T) {
	t.Parallel()
	f := setupReceipt(t, StateSending, "")
	out := f.record(t, Receipt{Provider: "twilio", MessageID: "SM9", DeliveryID: f.deliveryID, Status: "delivered", OccurredAt: t0})
	require.True(t, out.Known)
	require.Equal(t, StateDelivered, out.State)
	require.Equal(t, deliveryRow{State: StateDelivered, SID: "SM9", Final: true}, f.delivery(t))

	// Our own "accepted" commit comes afterwards and must not regress it.
	var state string
	err := pgx.BeginFunc(context.Background(), f.db, func(tx pgx.Tx) error {
		var err error
		state, err = Accepted(context.Background(), tx, f.deliveryID, f.noticeID, "SM9", false, "twilio_accepted", t0.Add(-time.Second))
		return err
	})
	require.NoError(t, err)
	require.Equal(t, StateDelivered, state)
}

func TestRecordReceiptUnknown(t *testing.T) {
	t.Parallel()
	f := setupReceipt(t, StateSent, "SM1")
	out := f.record(t, Receipt{Provider: "twilio", MessageID: "SMunknown", Status: "delivered", OccurredAt: t0})
	require.False(t, out.Known)
	// The delivery id in the URL names a delivery that has another SID.
	out = f.record(t, Receipt{Provider: "twilio", MessageID: "SMother", DeliveryID: f.deliveryID, Status: "delivered", OccurredAt: t0})
	require.False(t, out.Known)
	// Or a delivery that does not exist.
	out = f.record(t, Receipt{Provider: "twilio", MessageID: "SMother", DeliveryID: 999999, Status: "delivered", OccurredAt: t0})
	require.False(t, out.Known)
	require.Empty(t, f.events(t))
	require.Equal(t, StateSent, f.delivery(t).State)
}

func TestMarkStuck(t *testing.T) {
	t.Parallel()
	f := setupReceipt(t, StateSent, "SM1")
	ctx := context.Background()
	now := time.Now()
	// Make the fixture delivery old, and add others on other channels.
	_, err := f.db.Exec(ctx, `UPDATE deliveries SET sent_at = $2, sending_at = $2 WHERE id = $1`, f.deliveryID, now.Add(-73*time.Hour))
	require.NoError(t, err)
	add := func(channel, state string, age time.Duration) int64 {
		var id int64
		require.NoError(t, f.db.QueryRow(ctx, `
			INSERT INTO deliveries (notice_id, channel, provider, state, sending_at, sent_at)
			VALUES ($1, $2, 'x', $3, $4, CASE WHEN $3 IN ('sent', 'delivered') THEN $4::timestamptz END) RETURNING id`,
			f.noticeID, channel, state, now.Add(-age)).Scan(&id))
		return id
	}
	sendingOld := add("email", StateSending, 100*time.Hour)
	sentRecent := add("letter", StateSent, time.Hour)
	deliveredOld := add("fax", StateDelivered, 100*time.Hour)

	n, err := MarkStuck(ctx, f.db, 72*time.Hour, now)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	states := map[int64]string{}
	rows, err := f.db.Query(ctx, `SELECT id, state FROM deliveries`)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		var s string
		require.NoError(t, rows.Scan(&id, &s))
		states[id] = s
	}
	require.Equal(t, map[int64]string{f.deliveryID: StateUnknown, sendingOld: StateUnknown, sentRecent: StateSent, deliveredOld: StateDelivered}, states)
	var detail string
	require.NoError(t, f.db.QueryRow(ctx, `SELECT detail FROM delivery_events WHERE delivery_id = $1 AND event = 'unknown'`, f.deliveryID).Scan(&detail))
	require.Equal(t, "no final receipt within 72h0m0s (was sent)", detail)

	n, err = MarkStuck(ctx, f.db, 72*time.Hour, now)
	require.NoError(t, err)
	require.Zero(t, n, "already unknown")

	// A late final receipt still settles it.
	out := f.record(t, Receipt{Provider: "twilio", MessageID: "SM1", Status: "delivered", OccurredAt: now})
	require.Equal(t, StateDelivered, out.State)
}

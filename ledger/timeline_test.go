package ledger

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

func TestTimeline(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	var rid, other int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO recipients (ref) VALUES ('T1') RETURNING id`).Scan(&rid))
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO recipients (ref) VALUES ('T2') RETURNING id`).Scan(&other))
	_, err := db.Exec(ctx, `
		INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, state)
		SELECT $1, 'reminder', 'reminder', 'n' || g, 'sent' FROM generate_series(1, 5) g`, rid)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `INSERT INTO notices (recipient_id, kind, template_key, idempotency_key) VALUES ($1, 'reminder', 'reminder', 'x')`, other)
	require.NoError(t, err)
	var last int64
	require.NoError(t, db.QueryRow(ctx, `SELECT max(id) FROM notices WHERE recipient_id = $1`, rid).Scan(&last))
	var did int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO deliveries (notice_id, channel, provider, provider_message_id, state)
		VALUES ($1, 'sms', 'twilio', 'SM123', 'delivered') RETURNING id`, last).Scan(&did))
	require.NoError(t, AppendEvent(ctx, db, Event{DeliveryID: did, NoticeID: last, Event: "sent"}))
	require.NoError(t, AppendEvent(ctx, db, Event{DeliveryID: did, NoticeID: last, Event: "delivered", ProviderStatus: "delivered"}))

	entries, next, err := Timeline(ctx, db, rid, &TimelineOpts{Limit: 3})
	require.NoError(t, err)
	require.Len(t, entries, 3)
	require.NotZero(t, next)
	require.Equal(t, last, entries[0].Notice.ID, "newest first")
	require.Len(t, entries[0].Deliveries, 1)
	require.Equal(t, "SM123", entries[0].Deliveries[0].ProviderMessageID)
	require.Len(t, entries[0].Events, 3) // notice_created, sent, delivered
	require.Equal(t, "delivered", entries[0].Events[2].Event)
	require.Empty(t, entries[1].Deliveries)

	rest, next, err := Timeline(ctx, db, rid, &TimelineOpts{Before: next, Limit: 3})
	require.NoError(t, err)
	require.Len(t, rest, 2)
	require.Zero(t, next)
	for _, e := range append(entries, rest...) {
		require.Equal(t, rid, e.Notice.RecipientID, "only this beneficiary's notices")
	}
}

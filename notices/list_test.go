package notices

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

func TestList(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	var a, b, camp int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO recipients (ref) VALUES ('A') RETURNING id`).Scan(&a))
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO recipients (ref) VALUES ('B') RETURNING id`).Scan(&b))
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO campaigns (name, kind, notice_kind, template_key, created_by)
		VALUES ('c', 'reminder', 'reminder', 'reminder', 'x') RETURNING id`).Scan(&camp))
	_, err := db.Exec(ctx, `
		INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, state, campaign_id, created_at) VALUES
		($1, 'reminder', 'reminder', 'k1', 'delivered', $3, now() - interval '3 days'),
		($1, 'reminder', 'reminder', 'k2', 'failed', $3, now()),
		($2, 'reminder', 'reminder', 'k3', 'delivered', NULL, now()),
		($2, 'yearly_statement', 'yearly_statement', 'k4', 'pending', NULL, now())`, a, b, camp)
	require.NoError(t, err)

	keys := func(f Filter) []string {
		t.Helper()
		out, _, err := List(ctx, db, f)
		require.NoError(t, err)
		var ks []string
		for _, n := range out {
			ks = append(ks, n.IdempotencyKey)
		}
		return ks
	}
	require.Equal(t, []string{"k4", "k3", "k2", "k1"}, keys(Filter{}))
	require.Equal(t, []string{"k2", "k1"}, keys(Filter{RecipientID: a}))
	require.Equal(t, []string{"k2", "k1"}, keys(Filter{CampaignID: camp}))
	require.Equal(t, []string{"k3", "k1"}, keys(Filter{State: StateDelivered}))
	require.Equal(t, []string{"k4"}, keys(Filter{Kind: "yearly_statement"}))
	require.Equal(t, []string{"k4", "k3", "k2"}, keys(Filter{Since: time.Now().Add(-time.Hour)}))

	page1, next, err := List(ctx, db, Filter{Limit: 3})
	require.NoError(t, err)
	require.Len(t, page1, 3)
	require.Equal(t, []string{"k1"}, keys(Filter{Limit: 3, Before: next}))
	require.Equal(t, camp, *page1[2].CampaignID)

	_, _, err = List(ctx, db, Filter{State: "lost"})
	require.ErrorContains(t, err, "state")
	_, _, err = List(ctx, db, Filter{Kind: "nope"})
	require.ErrorContains(t, err, "kind")
}

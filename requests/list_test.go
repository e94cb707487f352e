package requests

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
	now := time.Now()
	var rid int64
	require.NoError(t, db.QueryRow(ctx, `INSERT INTO recipients (ref) VALUES ('R1') RETURNING id`).Scan(&rid))
	ins := func(ext, kind, state string, ackDue, answerDue time.Duration) {
		_, err := db.Exec(ctx, `INSERT INTO requests (external_id, recipient_id, kind, received_at, ack_due_by, answer_due_by, state)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, ext, rid, kind, now.Add(-20*24*time.Hour), now.Add(ackDue), now.Add(answerDue), state)
		require.NoError(t, err)
	}
	ins("open-late", "benefit_claim", StateAcknowledged, -10*24*time.Hour, 5*24*time.Hour)
	ins("breached", "benefit_claim", StateReceived, -time.Hour, 5*24*time.Hour)
	ins("at-risk", "complaint", StateAcknowledged, -5*24*time.Hour, time.Hour)
	ins("closed", "benefit_claim", StateClosed, -10*24*time.Hour, -5*24*time.Hour)
	ins("open-soon", "benefit_claim", StateAcknowledged, -10*24*time.Hour, 4*24*time.Hour)

	ids := func(f ListFilter) ([]string, string) {
		t.Helper()
		out, next, err := List(ctx, db, now, f)
		require.NoError(t, err)
		var s []string
		for _, r := range out {
			s = append(s, r.ExternalID+":"+r.Urgency)
		}
		return s, next
	}
	all, _ := ids(ListFilter{})
	require.Equal(t, []string{"breached:breached", "at-risk:at_risk", "open-soon:open", "open-late:open", "closed:closed"}, all)
	open, _ := ids(ListFilter{State: "open", Kind: "complaint"})
	require.Equal(t, []string{"at-risk:at_risk"}, open)
	soon, _ := ids(ListFilter{DueBefore: now.Add(2 * 24 * time.Hour), State: "open"})
	require.Equal(t, []string{"breached:breached", "at-risk:at_risk"}, soon)

	p1, next := ids(ListFilter{Limit: 2})
	require.Len(t, p1, 2)
	require.NotEmpty(t, next)
	p2, next := ids(ListFilter{Limit: 2, Cursor: next})
	require.Equal(t, []string{"open-soon:open", "open-late:open"}, p2)
	p3, next := ids(ListFilter{Limit: 2, Cursor: next})
	require.Equal(t, []string{"closed:closed"}, p3)
	require.Empty(t, next)

	_, _, err := List(ctx, db, now, ListFilter{Cursor: "garbage!"})
	require.ErrorIs(t, err, ErrBadCursor)
	_, _, err = List(ctx, db, now, ListFilter{State: "lost"})
	var ie *InvalidError
	require.ErrorAs(t, err, &ie)
}

package compliance

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

// A beneficiary's evidence pack looks its notices up by beneficiary number
// through an index, not by reading the whole projection.
func TestBeneficiaryPackUsesAnIndex(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t)
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `SET LOCAL enable_seqscan = off`) // the test table is tiny: ask what a large one would get
	require.NoError(t, err)
	var plan []string
	rows, err := tx.Query(ctx, `EXPLAIN `+beneficiaryNoticesSQL, "B1")
	require.NoError(t, err)
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan = append(plan, line)
	}
	require.NoError(t, rows.Err())
	joined := strings.Join(plan, "\n")
	require.Contains(t, joined, "proj_notices_recipient_idx", joined)
}

package campaigns

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

// BenchmarkAudiencePage measures one keyset page (5,000 ids) of a filtered
// audience over 100,000 beneficiaries.
func BenchmarkAudiencePage(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.New(b)
	_, err := pool.Exec(ctx, `
		INSERT INTO recipients (ref, email, postal_code, benefits)
		SELECT 'P' || g, 'p' || g || '@exemple.fr', CASE WHEN g % 3 = 0 THEN '97110' ELSE '75011' END,
		       CASE WHEN g % 2 = 0 THEN '{RSA}'::text[] ELSE '{AF}'::text[] END
		FROM generate_series(1, 100000) g;
		ANALYZE recipients`)
	require.NoError(b, err)
	a := &Audience{Benefits: []string{"RSA", "AF"}, Regions: []string{"ile-de-france", "guadeloupe"}, Contact: "email"}
	sql, args, err := a.PageSQL()
	require.NoError(b, err)
	var after int64
	b.ResetTimer()
	for b.Loop() {
		rows, err := pool.Query(ctx, sql, append([]any{after, 5000}, args...)...)
		require.NoError(b, err)
		n := 0
		for rows.Next() {
			require.NoError(b, rows.Scan(&after))
			n++
		}
		require.NoError(b, rows.Err())
		if n < 5000 {
			after = 0
		}
	}
}

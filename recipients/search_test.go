package recipients

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

func TestSearch(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	for _, r := range []*Recipient{
		{Ref: "1000001", GivenName: "Hélène", FamilyName: "Lefèvre", Email: "helene.lefevre@example.fr", Phone: "+33612345678", PostalCode: "75011", Active: true},
		{Ref: "1000002", GivenName: "Hélène", FamilyName: "Martin", PostalCode: "69003", Active: true},
		{Ref: "1000003", GivenName: "Jérôme", FamilyName: "Dupré", Email: "jd@example.fr", PostalCode: "13001", Active: true},
		{Ref: "2000004", GivenName: "Zoé", FamilyName: "N'Diaye", PostalCode: "97400", Active: true},
	} {
		_, _, err := Upsert(ctx, db, r)
		require.NoError(t, err)
	}
	refs := func(q string, opts *SearchOpts) []string {
		t.Helper()
		res, err := Search(ctx, db, q, opts)
		require.NoError(t, err, q)
		var out []string
		for _, r := range res.Recipients {
			out = append(out, r.Ref)
		}
		return out
	}
	require.Equal(t, []string{"1000002", "1000001"}, refs("helene", nil), "accent-insensitive, newest first")
	require.Equal(t, []string{"1000001"}, refs("HÉLÈNE lefev", nil), "every term must match, case-insensitive")
	require.Equal(t, []string{"1000003"}, refs("dupre", nil))
	require.Equal(t, []string{"1000003"}, refs("jd@exa", nil), "email")
	require.Equal(t, []string{"1000001"}, refs("06 12 34 56 78", nil), "national phone form with spaces")
	require.Equal(t, []string{"1000001"}, refs("+33612345678", nil), "E.164")
	require.Equal(t, []string{"1000002"}, refs("69003", nil), "postal code")
	require.Equal(t, []string{"2000004"}, refs("2000004", nil), "beneficiary number")
	require.Equal(t, []string{"2000004"}, refs("n'diaye", nil))
	require.Empty(t, refs("50%", nil), "LIKE wildcards are literal")

	first, err := Search(ctx, db, "00000", &SearchOpts{Limit: 3})
	require.NoError(t, err)
	require.Len(t, first.Recipients, 3)
	require.NotZero(t, first.Next)
	require.Equal(t, []string{"1000001"}, refs("00000", &SearchOpts{After: first.Next, Limit: 3}), "keyset page 2")

	_, err = Search(ctx, db, " h ", nil)
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "q", fe.Field)
}

func TestSearchTerms(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"0612345678"}, SearchTerms("06.12.34.56.78"))
	require.Equal(t, []string{"hélène", "dupont"}, SearchTerms(" Hélène  Dupont "))
	require.Equal(t, []string{"75011"}, SearchTerms("75011"))
}

// TestSearchBeyondWindow has more beneficiaries than the search window: a
// common name fills its page within the window, a rare one is found below
// it through the trigram index.
func TestSearchBeyondWindow(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	_, err := db.Exec(ctx, `INSERT INTO recipients (ref, given_name, family_name) VALUES ('OLD1', 'Zoé', 'Éléonore-Rare')`)
	require.NoError(t, err)
	_, err = db.Exec(ctx, `INSERT INTO recipients (ref, given_name, family_name)
		SELECT 'M' || g, CASE WHEN g % 2 = 0 THEN 'Amélie' ELSE 'Paul' END, 'Martin'
		FROM generate_series(1, $1::int) g`, searchWindow+100)
	require.NoError(t, err)
	var newest int64
	require.NoError(t, db.QueryRow(ctx, `SELECT max(id) FROM recipients`).Scan(&newest))

	res, err := Search(ctx, db, "MARTIN", &SearchOpts{Limit: 3})
	require.NoError(t, err)
	require.Len(t, res.Recipients, 3)
	require.Equal(t, newest, res.Recipients[0].ID)
	require.Equal(t, newest-2, res.Next)
	res, err = Search(ctx, db, "amelie martin", &SearchOpts{Limit: 2, After: res.Next})
	require.NoError(t, err)
	require.Len(t, res.Recipients, 2)
	for _, r := range res.Recipients {
		require.Equal(t, "Amélie", r.GivenName)
		require.Less(t, r.ID, newest-2)
	}

	rare, err := Search(ctx, db, "zoe eleonore", nil)
	require.NoError(t, err)
	require.Len(t, rare.Recipients, 1)
	require.Equal(t, "OLD1", rare.Recipients[0].Ref)

	// Inside a caller's transaction the planner settings are put back.
	tx, err := db.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = Search(ctx, tx, "eleonore", nil)
	require.NoError(t, err)
	var seq string
	require.NoError(t, tx.QueryRow(ctx, `SHOW enable_seqscan`).Scan(&seq))
	require.Equal(t, "on", seq)
}

package recipients

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

// TestImportAssignsCaf derives each beneficiary's Caf from the postal code
// unless the file names it, and rejects an unknown Caf with its line.
func TestImportAssignsCaf(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	csv := "ref;code_postal;caf\n" +
		"C1;75011;\n" + // Paris
		"C2;97410;\n" + // La Réunion
		"C3;75011;974\n" + // named at intake
		"C4;13001;\n" + // outside every territory: the first Caf
		"C5;75011;999\n" // unknown
	sum, err := Import(ctx, pool, strings.NewReader(csv), ImportOpts{})
	require.NoError(t, err)
	require.Equal(t, 4, sum.Inserted)
	require.Equal(t, []Rejection{{Line: 6, Field: "caf", Reason: "is not a Caf of the agency file example-agencies.yaml (embedded)"}}, sum.Rejections)
	for ref, want := range map[string]string{"C1": "751", "C2": "974", "C3": "974", "C4": "751"} {
		r, err := GetByRef(ctx, pool, ref)
		require.NoError(t, err)
		require.Equal(t, want, r.Caf, ref)
	}
	// A file without caf or postal code keeps the stored Caf; a new postal
	// code moves the beneficiary to the Caf of their new home.
	_, err = Import(ctx, pool, strings.NewReader("ref;prenom\nC3;Ana\n"), ImportOpts{})
	require.NoError(t, err)
	r, _ := GetByRef(ctx, pool, "C3")
	require.Equal(t, "974", r.Caf)
	_, err = Import(ctx, pool, strings.NewReader("ref;code_postal\nC1;97400\n"), ImportOpts{})
	require.NoError(t, err)
	r, _ = GetByRef(ctx, pool, "C1")
	require.Equal(t, "974", r.Caf)

	id, _, err := Upsert(ctx, pool, &Recipient{Ref: "C6", PostalCode: "97490"})
	require.NoError(t, err)
	r, _ = Get(ctx, pool, id)
	require.Equal(t, "974", r.Caf)
	_, _, err = Upsert(ctx, pool, &Recipient{Ref: "C7", Caf: "nope"})
	require.ErrorContains(t, err, "caf")
}

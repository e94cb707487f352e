package recipients

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

func TestCheckTextRefusesControlCharacters(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"Dup\x00ré", "Léa\r\nBcc: x", "Pa\tris", "\x1b[31m", "\x7f", "a\u0085b", "L\xffa", "a\u2028b"} {
		err := CheckText("family_name", v)
		var fe *FieldError
		require.ErrorAs(t, err, &fe, "%q", v)
		require.Equal(t, "family_name", fe.Field)
	}
	for _, v := range []string{"", "Dupré", "N'Guessan-Lefèvre", "Schœlcher", "Ωμέγα 3"} {
		require.NoError(t, CheckText("family_name", v), v)
	}
}

// The CSV import shares the API's rule: a row with a control character in a
// name is rejected with its line and field, and the good rows are kept.
func TestImportRejectsControlCharactersByLine(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	csv := "ref;given_name;family_name;email\n" +
		"2000001;Léa;Dupré;lea@exemple.fr\n" +
		"2000002;Jean;Mar\x1btin;jean@exemple.fr\n" +
		"\"2000003\";\"Anne\nBcc: x\";Petit;anne@exemple.fr\n" +
		"2000004;Zoé;Roux;zoe@exemple.fr\n"
	sum, err := Import(context.Background(), pool, strings.NewReader(csv), ImportOpts{Actor: "test"})
	require.NoError(t, err)
	require.Equal(t, 2, sum.Inserted)
	require.Equal(t, 2, sum.Rejected)
	require.Equal(t, 3, sum.Rejections[0].Line)
	require.Equal(t, "family_name", sum.Rejections[0].Field)
	require.Equal(t, 4, sum.Rejections[1].Line)
	require.Equal(t, "given_name", sum.Rejections[1].Field)
}

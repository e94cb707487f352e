package recipients

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

// TestImportWindows1252 reads a file as Excel exports "CSV (séparateur :
// point-virgule)" in France: Windows-1252, no BOM.
func TestImportWindows1252(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	utf := "Numéro allocataire;Prénom;Nom;Adresse;Code postal;Ville\n" +
		"W1;Zoé;Lefèvre;1 rue de l'Église;97400;Saint-Denis\n" +
		"W2;François;Œuvray;2 place d'Armes;75011;Paris\n"
	cp, err := charmap.Windows1252.NewEncoder().String(utf)
	require.NoError(t, err)
	require.NotEqual(t, utf, cp)
	sum, err := Import(ctx, pool, strings.NewReader(cp), ImportOpts{})
	require.NoError(t, err)
	require.Equal(t, 2, sum.Inserted, sum.Rejections)
	r, err := GetByRef(ctx, pool, "W2")
	require.NoError(t, err)
	require.Equal(t, "François", r.GivenName)
	require.Equal(t, "Œuvray", r.FamilyName)

	// Said explicitly, the same; said wrongly (utf-8), the rows are
	// rejected with their line, never stored garbled.
	sum, err = Import(ctx, pool, strings.NewReader(cp), ImportOpts{Encoding: EncodingWindows1252})
	require.NoError(t, err)
	require.Equal(t, 2, sum.Unchanged)
	_, err = Import(ctx, pool, strings.NewReader(cp), ImportOpts{Encoding: EncodingUTF8})
	var fe *FileError
	require.ErrorAs(t, err, &fe, "the header itself is not UTF-8")

	enc, err := ParseEncoding("CP1252")
	require.NoError(t, err)
	require.Equal(t, EncodingWindows1252, enc)
	_, err = ParseEncoding("ebcdic")
	require.Error(t, err)
}

// TestImportBadLinesAreRejectedAlone: a NUL byte, invalid UTF-8 or an
// unclosed quote costs only its own line (issue 11), reported by number.
func TestImportBadLinesAreRejectedAlone(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	csv := "ref;prenom;nom;adresse;code_postal;ville\n" + // 1
		"B1;Léa;Dupré;;;\n" + // 2 good
		"B2;Jean\x00;Martin;;;\n" + // 3 NUL
		"B3;Ana;\"Gómez;;;\n" + // 4 unclosed quote
		"B4;Paul;Durand;;;\n" + // 5 good: not swallowed by line 4
		"B5;Max;Bad\xff\xfe;;;\n" + // 6 invalid UTF-8
		"B6;Zoé;Roux;\"3 rue Haute\nBâtiment B\";75011;Paris\n" + // 7–8 a quoted line break: read as one record, refused by the field rule
		"B7;Eve;Petit;;;\n" // 9 good
	sum, err := Import(ctx, pool, strings.NewReader(csv), ImportOpts{})
	require.NoError(t, err)
	require.Equal(t, []Rejection{
		{Line: 3, Reason: "contains a NUL byte"},
		{Line: 4, Reason: `has an unclosed quote (")`},
		{Line: 6, Reason: `is not valid UTF-8: export the file as "CSV UTF-8" or give its encoding (windows-1252)`},
		{Line: 7, Field: "address_line1", Reason: "contains a control character (U+000A at byte 11)"},
	}, sum.Rejections)
	require.Equal(t, 3, sum.Inserted)
	for _, ref := range []string{"B1", "B4", "B7"} {
		_, err := GetByRef(ctx, pool, ref)
		require.NoError(t, err, ref)
	}

	// An unclosed quote on the last line is reported too.
	sum, err = Import(ctx, pool, strings.NewReader("ref;nom\nC1;\"Martin\nC2;Durand\n"), ImportOpts{})
	require.NoError(t, err)
	require.Equal(t, []Rejection{{Line: 2, Reason: `has an unclosed quote (")`}}, sum.Rejections)
	require.Equal(t, 1, sum.Inserted)
}

// TestImportXLSX reads the first sheet of a workbook made here, with a
// number typed as a number and trailing empty cells.
func TestImportXLSX(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	f := excelize.NewFile()
	sheet := f.GetSheetName(0)
	rows := [][]any{
		{"Numéro allocataire", "Prénom", "Nom", "Adresse", "Code postal", "Ville", "Téléphone"},
		{"X1", "Léa", "Dupré", "1 rue Schœlcher", "97110", "Pointe-à-Pitre", "0690 12 34 56"},
		{"X2", "Jean", "Martin"}, // trailing cells empty
		{},
		{"X3", "Paul", "Durand", "2 rue Haute", "7501", "Paris"}, // bad postal code
	}
	for i, row := range rows {
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		require.NoError(t, err)
		require.NoError(t, f.SetSheetRow(sheet, cell, &row))
	}
	var buf bytes.Buffer
	require.NoError(t, f.Write(&buf))
	sum, err := Import(ctx, pool, &buf, ImportOpts{})
	require.NoError(t, err)
	require.Equal(t, "xlsx", sum.Separator)
	require.Equal(t, 2, sum.Inserted, sum.Rejections)
	require.Equal(t, []Rejection{{Line: 5, Field: "postal_code", Reason: "must be 5 digits"}}, sum.Rejections)
	r, err := GetByRef(ctx, pool, "X1")
	require.NoError(t, err)
	require.Equal(t, "+590690123456", r.Phone)
	require.Equal(t, "Pointe-à-Pitre", r.City)
}

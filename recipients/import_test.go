package recipients

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

const mixedCSV = "\ufeffNuméro allocataire;Civilité;Prénom;Nom;Email;Téléphone;Adresse;Complément;Code postal;Ville;Prestations;Consent_SMS\n" +
	"1000001;Mme;Léa;Dupré;lea.dupre@Exemple.FR;06 12 34 56 78;3 rue des Lilas;;75011;Paris;AF|APL;oui\n" + // 2 good
	"1000002;M.;Jean;Martin;jean@@exemple;;;;;;;\n" + // 3 email
	"1000003;M;Paul;Durand;;01 23;;;;;;\n" + // 4 phone
	";Mme;Anne;Petit;;;;;;;;\n" + // 5 ref
	"1000004;Docteur;Max;Weber;;;;;;;;\n" + // 6 civility
	"1000005;madame;Zoé;Roux;;0690 12 34 56;1 rue Schœlcher;Bât. B;97100;Basse-Terre;RSA;non\n" + // 7 good, overseas
	"1000001;Mme;Léa;Dupré;;;;;;;;\n" + // 8 duplicate
	"1000006;Mme;Eve\n" + // 9 field count
	"1000007;;;;;;2 rue Haute;;7501;Paris;;\n" + // 10 postal code
	"1000008;M.;Luc;Moreau;;;;;;;AF;peut-être\n" + // 11 consent
	"\n" + // 12 blank: skipped
	"\"1000009\";\"Mme\";\"Ana\";\"Gómez; née Ruiz\";;;;;;;\"PA RSA\";\n" // 13 good, quoted separator

func wantRejections() []Rejection {
	return []Rejection{
		{Line: 3, Field: "email", Reason: "is not a valid email address"},
		{Line: 4, Field: "phone", Reason: "is not a valid phone number for region FR"},
		{Line: 5, Field: "ref", Reason: "is required"},
		{Line: 6, Field: "civility", Reason: `must be "M.", "Mme" or empty`},
		{Line: 8, Field: "ref", Reason: "is the same beneficiary as line 2"},
		{Line: 9, Reason: "has 3 fields, the header has 12"},
		{Line: 10, Field: "postal_code", Reason: "must be 5 digits"},
		{Line: 11, Field: "consent_sms", Reason: "must be oui/non, true/false or 1/0"},
	}
}

func TestImportMixedFile(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()

	sum, err := Import(ctx, pool, strings.NewReader(mixedCSV), ImportOpts{BatchSize: 2, Actor: "test"})
	require.NoError(t, err)
	require.Equal(t, ";", sum.Separator)
	require.Equal(t, 11, sum.Rows)
	require.Equal(t, 3, sum.Inserted)
	require.Equal(t, 0, sum.Updated)
	require.Equal(t, 0, sum.Unchanged)
	require.Equal(t, 8, sum.Rejected)
	require.Equal(t, wantRejections(), sum.Rejections)
	for _, r := range sum.Rejections {
		require.NotContains(t, r.String(), "01 23", "no values in reasons")
		require.NotContains(t, r.String(), "jean@@", "no values in reasons")
	}

	lea, err := GetByRef(ctx, pool, "1000001")
	require.NoError(t, err)
	require.Equal(t, "Mme", lea.Civility)
	require.Equal(t, "Léa", lea.GivenName)
	require.Equal(t, "lea.dupre@exemple.fr", lea.Email)
	require.Equal(t, "+33612345678", lea.Phone)
	require.Equal(t, "mobile", lea.PhoneType)
	require.Equal(t, []string{"AF", "APL"}, lea.Benefits)
	require.True(t, lea.ConsentSMS)
	zoe, err := GetByRef(ctx, pool, "1000005")
	require.NoError(t, err)
	require.Equal(t, "+590690123456", zoe.Phone)
	require.Equal(t, "Bât. B", zoe.AddressLine2)
	require.False(t, zoe.ConsentSMS)
	ana, err := GetByRef(ctx, pool, "1000009")
	require.NoError(t, err)
	require.Equal(t, "Gómez; née Ruiz", ana.FamilyName)
	require.Equal(t, []string{"PA", "RSA"}, ana.Benefits)
	var count int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM recipients").Scan(&count))
	require.Equal(t, 3, count)
	var updatedBy string
	require.NoError(t, pool.QueryRow(ctx, "SELECT updated_by FROM recipients WHERE ref = '1000001'").Scan(&updatedBy))
	require.Equal(t, "test", updatedBy)

	// Re-import: nothing changes, not even updated_at.
	before := updatedAts(t, pool)
	sum, err = Import(ctx, pool, strings.NewReader(mixedCSV), ImportOpts{Actor: "again"})
	require.NoError(t, err)
	require.Equal(t, 0, sum.Inserted)
	require.Equal(t, 0, sum.Updated)
	require.Equal(t, 3, sum.Unchanged)
	require.Equal(t, 8, sum.Rejected)
	require.Equal(t, wantRejections(), sum.Rejections)
	require.Equal(t, before, updatedAts(t, pool))

	// One changed row is one update.
	changed := strings.Replace(mixedCSV, "3 rue des Lilas", "5 rue des Lilas", 1)
	sum, err = Import(ctx, pool, strings.NewReader(changed), ImportOpts{})
	require.NoError(t, err)
	require.Equal(t, 1, sum.Updated)
	require.Equal(t, 2, sum.Unchanged)
}

func updatedAts(t *testing.T, pool DBTX) map[string]time.Time {
	t.Helper()
	rows, err := pool.Query(context.Background(), "SELECT ref, updated_at FROM recipients")
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var ref string
		var at time.Time
		require.NoError(t, rows.Scan(&ref, &at))
		out[ref] = at
	}
	return out
}

func TestImportCommaEnglishPartialColumns(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	_, _, err := Upsert(ctx, pool, &Recipient{Ref: "42", Email: "old@exemple.fr", Phone: "+33612345678",
		ConsentEmail: true, ConsentSMS: true, ConsentLetter: true, Active: true})
	require.NoError(t, err)
	// A STOP reply withdrew SMS consent: an import cannot give it back.
	_, err = WithdrawSMSConsentByPhone(ctx, pool, "+33612345678", "twilio_inbound")
	require.NoError(t, err)

	csv := "ref,given_name,family_name,consent_sms\n42,Ada,Lovelace,yes\n43,Alan,Turing,\n"
	sum, err := Import(ctx, pool, strings.NewReader(csv), ImportOpts{})
	require.NoError(t, err)
	require.Equal(t, ",", sum.Separator)
	require.Equal(t, 1, sum.Inserted)
	require.Equal(t, 1, sum.Updated)
	ada, err := GetByRef(ctx, pool, "42")
	require.NoError(t, err)
	require.Equal(t, "Ada", ada.GivenName)
	require.Equal(t, "old@exemple.fr", ada.Email, "a column absent from the file keeps its value")
	require.Equal(t, "+33612345678", ada.Phone)
	require.False(t, ada.ConsentSMS, "the beneficiary's STOP stands")

	sum, err = Import(ctx, pool, strings.NewReader(csv), ImportOpts{})
	require.NoError(t, err)
	require.Equal(t, 2, sum.Unchanged)
}

func TestImportFileErrors(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	for name, tc := range map[string]struct{ csv, field, reason string }{
		"empty":          {"", "", "the file is empty"},
		"unknown column": {"ref;shoe_size\n1;42\n", "shoe_size", "is not a known column"},
		"no ref":         {"prenom;nom\nA;B\n", "ref", "is required"},
		"twice":          {"ref;nom;family_name\n", "family_name", "appears twice"},
		"latin1":         {"ref;nom\xe9\n", "nomé", "is not a known column"}, // read as Windows-1252
	} {
		_, err := Import(context.Background(), pool, strings.NewReader(tc.csv), ImportOpts{})
		var fe *FileError
		require.True(t, errors.As(err, &fe), name)
		require.Equal(t, tc.field, fe.Field, name)
		require.Contains(t, fe.Reason, tc.reason, name)
	}
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT count(*) FROM recipients").Scan(&n))
	require.Zero(t, n)
}

func TestImportDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	sum, err := Import(context.Background(), pool, strings.NewReader(mixedCSV), ImportOpts{DryRun: true})
	require.NoError(t, err)
	require.True(t, sum.DryRun)
	require.Equal(t, 3, sum.Valid)
	require.Equal(t, 8, sum.Rejected)
	require.Equal(t, wantRejections(), sum.Rejections)
	require.Zero(t, sum.Inserted)
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT count(*) FROM recipients").Scan(&n))
	require.Zero(t, n)
}
func BenchmarkImport100k(b *testing.B) {
	pool := pgtest.New(b)
	var sb strings.Builder
	sb.WriteString("numero_allocataire;civilite;prenom;nom;email;telephone;adresse;code_postal;ville;prestations\n")
	for i := range 100_000 {
		fmt.Fprintf(&sb, "%07d;Mme;Léa;Dupré;lea.%d@exemple.fr;06 %02d %02d %02d %02d;3 rue des Lilas;75011;Paris;AF|APL\n",
			3000000+i, i, i/1000000%100, i/10000%100, i/100%100, i%100)
	}
	data := sb.String()
	b.ResetTimer()
	for range b.N {
		sum, err := Import(context.Background(), pool, strings.NewReader(data), ImportOpts{})
		if err != nil || sum.Rejected > 0 {
			b.Fatal(err, sum.Rejections)
		}
	}
}

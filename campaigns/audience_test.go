package campaigns

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

// seedAudience creates a small, varied set of beneficiaries:
//
//	A1 RSA,AF Paris 75011, email + mobile, fr, first_birth 2027-02-10, RSA opened 2027-01-05
//	A2 APL     Pointe-à-Pitre 97110, mobile only, fr
//	A3 AF      Ajaccio 20000, neither, en, separation 2026-11-02
//	A4 RSA     Bastia 20200, email only (undeliverable mobile), fr, general_information delivered 2027-03-01
//	A5 RSA     Lyon 69003, email, fr, inactive
func seedAudience(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := pgtest.New(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `
		INSERT INTO recipients (ref, email, phone, phone_type, phone_status, postal_code, language, benefits, active) VALUES
		 ('A1', 'a1@exemple.fr', '+33600000001', 'mobile', 'ok', '75011', 'fr', '{RSA,AF}', true),
		 ('A2', NULL, '+590690000002', 'mobile', 'ok', '97110', 'fr', '{APL}', true),
		 ('A3', NULL, NULL, 'mobile', 'ok', '20000', 'en', '{AF}', true),
		 ('A4', 'a4@exemple.fr', '+33600000004', 'mobile', 'undeliverable', '20200', 'fr', '{RSA}', true),
		 ('A5', 'a5@exemple.fr', NULL, 'mobile', 'ok', '69003', 'fr', '{RSA}', false);
		INSERT INTO life_events (external_id, recipient_id, kind, occurred_on)
		  SELECT 'le1', id, 'first_birth', '2027-02-10' FROM recipients WHERE ref = 'A1';
		INSERT INTO life_events (external_id, recipient_id, kind, occurred_on)
		  SELECT 'le3', id, 'separation', '2026-11-02' FROM recipients WHERE ref = 'A3';
		INSERT INTO rights_events (external_id, recipient_id, event, benefit, effective_on)
		  SELECT 're1', id, 'opened', 'RSA', '2027-01-05' FROM recipients WHERE ref = 'A1';
		INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, state, delivered_at)
		  SELECT id, 'general_information', 'general_information', 'gi-a4', 'delivered', '2027-03-01T10:00:00+01:00'
		  FROM recipients WHERE ref = 'A4';`)
	require.NoError(t, err)
	return pool
}

func refsOf(t *testing.T, pool *pgxpool.Pool, a *Audience) []string {
	t.Helper()
	ctx := context.Background()
	sql, args, err := a.PageSQL()
	require.NoError(t, err)
	rows, err := pool.Query(ctx, `SELECT ref FROM recipients WHERE id IN (`+sql+`) ORDER BY ref`, append([]any{int64(0), 100}, args...)...)
	require.NoError(t, err)
	var refs []string
	for rows.Next() {
		var r string
		require.NoError(t, rows.Scan(&r))
		refs = append(refs, r)
	}
	require.NoError(t, rows.Err())
	n, err := CountAudience(ctx, pool, a)
	require.NoError(t, err)
	require.EqualValues(t, len(refs), n, "count and page agree")
	return refs
}

func TestAudienceFilters(t *testing.T) {
	t.Parallel()
	pool := seedAudience(t)
	cases := []struct {
		name string
		src  string
		want []string
	}{
		{"everyone active", `{}`, []string{"A1", "A2", "A3", "A4"}},
		{"include inactive", `{"include_inactive": true}`, []string{"A1", "A2", "A3", "A4", "A5"}},
		{"benefits any of", `benefits: [rsa, apl]`, []string{"A1", "A2", "A4"}},
		{"departement", `departements: ["75", "971"]`, []string{"A1", "A2"}},
		{"corsica 2A", `departements: [2A]`, []string{"A3"}},
		{"corsica 2B", `departements: [2B]`, []string{"A4"}},
		{"region overseas", `regions: [guadeloupe]`, []string{"A2"}},
		{"region corse", `regions: [corse]`, []string{"A3", "A4"}},
		{"has email", `contact: email`, []string{"A1", "A4"}},
		{"has mobile", `contact: mobile`, []string{"A1", "A2"}},
		{"email and mobile", `contact: email_and_mobile`, []string{"A1"}},
		{"neither", `contact: neither`, []string{"A3"}},
		{"language", `languages: [en]`, []string{"A3"}},
		{"life event in range", `life_event: {kind: first_birth, from: 2027-02-01, to: 2027-02-28}`, []string{"A1"}},
		{"life event boundary", `life_event: {kind: first_birth, from: 2027-02-10, to: 2027-02-10}`, []string{"A1"}},
		{"life event out of range", `life_event: {kind: first_birth, from: 2027-02-11}`, nil},
		{"rights opened", `rights_opened: {from: 2027-01-01, to: 2027-01-31}`, []string{"A1"}},
		{"rights opened benefit", `rights_opened: {from: 2027-01-01, benefits: [AF]}`, nil},
		{"not contacted", `not_contacted: {kind: general_information, since: 2027-02-01}`, []string{"A1", "A2", "A3"}},
		{"not contacted after", `not_contacted: {kind: general_information, since: 2027-03-02}`, []string{"A1", "A2", "A3", "A4"}},
		{"combined AND", "benefits: [RSA]\nregions: [corse, ile-de-france]\ncontact: email", []string{"A1", "A4"}},
		{"combined AND narrow", "benefits: [RSA]\ndepartements: ['75']\nlife_event: {kind: first_birth}", []string{"A1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseAudience([]byte(tc.src))
			require.NoError(t, err)
			require.Equal(t, tc.want, refsOf(t, pool, a))
		})
	}
}

func TestAudienceBadInput(t *testing.T) {
	t.Parallel()
	cases := []struct{ src, field, msg string }{
		{`contact: fax`, "", "contact"},
		{`departements: ["20"]`, "departements[0]", "not a département"},
		{`departements: ["97"]`, "departements[0]", "not a département"},
		{`regions: [atlantis]`, "regions[0]", "unknown region"},
		{`life_event: {kind: wedding}`, "life_event.kind", "not one of"},
		{`life_event: {from: 2027-01-01}`, "life_event.kind", "required"},
		{`life_event: {kind: first_birth, from: 2027-02-30}`, "life_event.from", "not a date"},
		{`life_event: {kind: first_birth, from: 2027-03-01, to: 2027-02-01}`, "life_event.to", "before from"},
		{`rights_opened: {}`, "rights_opened", "needs from or to"},
		{`not_contacted: {kind: spam, since: 2027-01-01}`, "not_contacted.kind", "not a notice kind"},
		{`not_contacted: {kind: general_information}`, "not_contacted.since", "required"},
		{`benefits: [""]`, "benefits[0]", "empty"},
	}
	for _, tc := range cases {
		_, err := ParseAudience([]byte(tc.src))
		require.Error(t, err, tc.src)
		if tc.field != "" {
			var fe *FilterError
			require.ErrorAs(t, err, &fe, tc.src)
			require.Equal(t, tc.field, fe.Field, tc.src)
		}
		require.Contains(t, err.Error(), tc.msg, tc.src)
	}
	// Unknown fields are named, in YAML and in JSON.
	_, err := ParseAudience([]byte("benefit: [RSA]"))
	require.ErrorContains(t, err, "benefit")
	_, err = ParseAudience([]byte(`{"benfits": ["RSA"]}`))
	require.ErrorContains(t, err, `unknown field "benfits"`)
}

func TestAudienceValuesNeverBecomeSQL(t *testing.T) {
	t.Parallel()
	a := &Audience{Benefits: []string{"RSA'); DROP TABLE recipients; --"}, Languages: []string{"fr' OR '1'='1"}}
	c, err := a.Compile(2)
	require.NoError(t, err)
	require.NotContains(t, c.Where, "DROP")
	require.NotContains(t, c.Where, "'1'='1")
	require.Contains(t, c.Where, "$3")
	require.Len(t, c.Args, 2)
}

func TestPreviewAudience(t *testing.T) {
	t.Parallel()
	pool := seedAudience(t)
	a, err := ParseAudience([]byte("benefits: [RSA]\nlife_event: {kind: first_birth, from: 2027-01-01}\n"))
	require.NoError(t, err)
	count, sample, err := Preview(context.Background(), pool, a, 10)
	require.NoError(t, err)
	require.EqualValues(t, 1, count)
	require.Len(t, sample, 1)
	require.Equal(t, "A1", sample[0].Ref)
	require.Contains(t, sample[0].Why, "benefits RSA")
	require.Contains(t, sample[0].Why, "life event first_birth on 2027-02-10")

	_, err = ParseAudience([]byte("regions: [narnia]\n"))
	require.ErrorContains(t, err, "regions[0]")
}

// TestAudienceYAMLFlowMapping reads a one-line YAML audience, which starts
// with "{" like JSON (issue 16: it was parsed as JSON and rejected).
func TestAudienceYAMLFlowMapping(t *testing.T) {
	t.Parallel()
	for _, src := range []string{`{ref_prefix: "G"}`, `{ref_prefix: G}`, `{"ref_prefix": "G"}`, "ref_prefix: G\n"} {
		a, err := ParseAudience([]byte(src))
		require.NoError(t, err, src)
		require.Equal(t, "G", a.RefPrefix, src)
	}
	_, err := ParseAudience([]byte(`{ref_prefx: G}`))
	require.ErrorContains(t, err, "ref_prefx", "unknown fields are still errors")
}

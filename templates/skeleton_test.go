package templates

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

// hostileRecipients are recipients whose fields an escaper, a helper or the
// text tidying could treat differently in a skeleton and in a plain render.
var hostileRecipients = []Recipient{
	SampleRecipient(),
	{},
	{Ref: "1234567", Civility: "Mme", GivenName: "Hélène", FamilyName: "D'Artagnan & <Fils>"},
	{Ref: "<script>alert(1)</script>", Civility: "M.", GivenName: "\"Jean\"", FamilyName: "O'Brien+1 "},
	{Ref: "a\x00b\ufffd", GivenName: "  Zoé  ", FamilyName: "  de\tla\nFontaine  "},
	{Ref: "\uE0000\uE001", GivenName: "{{.Recipient}}", FamilyName: "\uE001x\uE000"},
	{Ref: "ref ", Civility: "Mx", GivenName: "trailing   ", FamilyName: "\n\n\nblank lines\n\n\n"},
	{Ref: "&amp; &#39;", GivenName: "javascript:alert(1)", FamilyName: "--><!--"},
}

var hostileAgencies = []*Agency{
	nil,
	{Name: "Caf de La Réunion", Code: "974", Website: "https://www.caf.fr/allocataires/caf-de-la-reunion"},
	{Name: "Caf <b>&</b> \"Co\"", Phone: "3230 ' +", BusyHours: "lundi\n\nmardi  "},
}

// Every template on every channel renders through its skeletons exactly as
// the plain render does, for hostile recipients and agencies, on a cache
// miss and on a hit.
func TestSkeletonMatchesPlainRender(t *testing.T) {
	t.Parallel()
	set, err := Load(nil)
	require.NoError(t, err)
	withSkeleton := 0
	for k, c := range set.tmpls {
		if c.textSkel != nil || c.htmlSkel != nil {
			withSkeleton++
		}
		for _, ag := range hostileAgencies {
			agency := set.agency
			if ag != nil {
				agency = ag.withDefaults()
			}
			for _, r := range hostileRecipients {
				in := Input{Recipient: r, Data: SampleData(c.key)}
				want, wantErr := c.renderWith(in, agency, false)
				for range 2 {
					got, err := c.renderWith(in, agency, true)
					if wantErr != nil {
						require.Equal(t, wantErr, err, k)
						continue
					}
					require.NoError(t, err, k)
					require.Equal(t, want, got, "%s for %+v", k, r)
				}
			}
		}
	}
	require.Equal(t, len(set.tmpls), withSkeleton, "every default template has a skeleton")
	gi := set.tmpls[KindGeneralInformation+"/email"]
	require.NotNil(t, gi.textSkel)
	require.NotNil(t, gi.htmlSkel)
	require.Len(t, gi.htmlSkel.holes, 2, "salutation and the beneficiary number")
}

// A template that reads the recipient where a skeleton cannot fill it (a
// condition, a range, a variable, an attribute) renders plainly, and the
// same.
func TestSkeletonRefusedRendersPlainly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := map[string]string{
		"cond":  `{{if eq .Recipient.Civility "Mme"}}Chère Madame{{else}}Bonjour{{end}} {{.Recipient.FamilyName}}`,
		"var":   `{{$r := .Recipient}}Bonjour {{$r.FamilyName}}`,
		"attr":  `<a title="{{.Recipient.FamilyName}}">lien</a> {{.Recipient.Ref}}`,
		"with":  `{{with .Recipient}}{{.FamilyName}}{{end}}`,
		"fine":  `Bonjour {{salutation .Recipient}} {{printf "%s-%s" $.Recipient.Ref .period}}`,
		"range": `{{range .items}}{{$.Recipient.Ref}} {{.}}{{end}}`,
	}
	for name, body := range cases {
		src := "---\nkind: k_" + name + "\nchannel: email\nsubject: Objet {{.period}} {{.Recipient.Ref}}\nfields:\n  period: string\n  items: list\n---\n-- html --\n<p>" + body + "</p>\n-- text --\n" + body + "\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, "k_"+name+".email.tmpl"), []byte(src), 0o600))
	}
	set, err := Load(&Options{OverrideDir: dir})
	require.NoError(t, err)
	for name := range cases {
		c := set.tmpls["k_"+name+"/email"]
		require.NotNil(t, c, name)
		switch name {
		case "fine":
			require.NotNil(t, c.htmlSkel, name)
			require.NotNil(t, c.textSkel, name)
		case "attr":
			require.Nil(t, c.htmlSkel, name)
		default:
			require.Nil(t, c.htmlSkel, name)
			require.Nil(t, c.textSkel, name)
		}
		for _, r := range hostileRecipients {
			in := Input{Recipient: r, Data: map[string]any{"period": "été <2027>", "items": []any{"a", "<b>"}}}
			want, err := c.renderWith(in, set.agency, false)
			require.NoError(t, err, name)
			got, err := c.renderWith(in, set.agency, true)
			require.NoError(t, err, name)
			require.Equal(t, want, got, name)
		}
	}
}

// The skeleton key changes with every agency field, the subject and every
// declared field: a skeleton is never reused for other data.
func TestSkeletonKeyCoversData(t *testing.T) {
	t.Parallel()
	set, err := Load(nil)
	require.NoError(t, err)
	c := set.tmpls[KindRightsOpened+"/email"]
	base := func() map[string]any {
		d := map[string]any{"Agency": set.agency, "Subject": "objet"}
		for _, f := range c.fields {
			d[f.Name], _ = convert(f.Type, SampleData(KindRightsOpened)[f.Name])
		}
		return d
	}
	key := skeletonKey(c, base())
	av := reflect.ValueOf(&set.agency).Elem()
	for i := range av.NumField() {
		d := base()
		a := set.agency
		reflect.ValueOf(&a).Elem().Field(i).SetString(av.Field(i).String() + "x")
		d["Agency"] = a
		require.NotEqual(t, key, skeletonKey(c, d), "agency field %s", av.Type().Field(i).Name)
	}
	d := base()
	d["Subject"] = "objet2"
	require.NotEqual(t, key, skeletonKey(c, d))
	require.NotEmpty(t, c.fields)
	for _, f := range c.fields {
		d := base()
		d[f.Name] = "autre"
		require.NotEqual(t, key, skeletonKey(c, d), f.Name)
	}
	require.Equal(t, key, skeletonKey(c, base()))
}

// Data seen once renders plainly and is only remembered; the skeleton is
// rendered and kept when the same data comes back.
func TestSkeletonOnlyForRepeatedData(t *testing.T) {
	t.Parallel()
	set, err := Load(nil)
	require.NoError(t, err)
	c := set.tmpls[KindGeneralInformation+"/email"]
	in := func(period string, r Recipient) Input {
		return Input{Recipient: r, Data: map[string]any{"period": period}}
	}
	_, err = c.render(in("hiver 2028", SampleRecipient()), set.agency)
	require.NoError(t, err)
	require.Empty(t, c.htmlSkel.cache, "first use: plain render, nothing cached")
	want, err := c.renderWith(in("hiver 2028", hostileRecipients[3]), set.agency, false)
	require.NoError(t, err)
	got, err := c.render(in("hiver 2028", hostileRecipients[3]), set.agency)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Len(t, c.htmlSkel.cache, 1, "second use: the skeleton is kept")
	require.Len(t, c.textSkel.cache, 1)
}

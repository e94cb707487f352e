package templates

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func setup(t *testing.T) *Set {
	t.Helper()
	set, err := Load(nil)
	require.NoError(t, err)
	return set
}

// golden formats a rendered message for a golden file.
func golden(r *Rendered) string {
	var b strings.Builder
	fmt.Fprintf(&b, "kind: %s\nchannel: %s\n", r.Key, r.Channel)
	if r.Subject != "" {
		fmt.Fprintf(&b, "subject: %s\n", r.Subject)
	}
	if r.SMS != nil {
		fmt.Fprintf(&b, "sms: %s, %d segment(s), %d characters\n", r.SMS.Encoding, r.SMS.Segments, r.SMS.Characters)
	}
	fmt.Fprintf(&b, "\n===== text =====\n%s", r.Text)
	if !strings.HasSuffix(r.Text, "\n") {
		b.WriteString("\n")
	}
	if r.HTML != "" {
		fmt.Fprintf(&b, "\n===== html =====\n%s", r.HTML)
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	t.Parallel()
	set := setup(t)
	require.Equal(t, DefaultKinds(), set.Keys())
	require.Len(t, DefaultKinds(), 15)
	for _, key := range DefaultKinds() {
		for _, ch := range Channels {
			t.Run(key+"/"+ch, func(t *testing.T) {
				t.Parallel()
				require.True(t, set.Has(key, ch))
				r, err := set.Render(key, ch, Input{Recipient: SampleRecipient(), Data: SampleData(key)})
				require.NoError(t, err)
				require.Equal(t, key, r.Key)
				require.Equal(t, ch, r.Channel)
				require.Len(t, r.Version, 64)
				switch ch {
				case "email":
					require.NotEmpty(t, r.Subject)
					require.Contains(t, r.HTML, `<html lang="fr">`)
					require.NotEmpty(t, r.Text)
					require.Nil(t, r.SMS)
				case "sms":
					require.NotNil(t, r.SMS)
					require.Equal(t, 1, r.SMS.Segments, "default SMS should fit one segment with sample data")
					require.Equal(t, EncodingGSM7, r.SMS.Encoding)
				case "letter":
					require.Contains(t, r.Text, "Objet : "+r.Subject)
				}
				path := filepath.Join("testdata", "golden", key+"."+ch+".golden")
				got := golden(r)
				if *update {
					require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
					require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
				}
				want, err := os.ReadFile(path)
				require.NoError(t, err, "run go test ./templates -run TestGolden -update")
				require.Equal(t, string(want), got)
			})
		}
	}
}

func TestGeneralInformationCarriesAgencyBlocks(t *testing.T) {
	t.Parallel()
	agency := Agency{
		Name:            "Caf de l'Essonne",
		MediatorContact: "Médiateur, 2 impasse Exemple, 91000 Évry",
		ReceptionHours:  "du lundi au jeudi, de 9 h à 16 h",
		BusyHours:       "le lundi matin",
	}
	set, err := Load(&Options{Agency: agency})
	require.NoError(t, err)
	for _, ch := range []string{"email", "letter"} {
		r, err := set.Render(KindGeneralInformation, ch, Input{Recipient: SampleRecipient(), Data: SampleData(KindGeneralInformation)})
		require.NoError(t, err)
		require.Contains(t, r.Text, DefaultAgency().Phone, "empty agency fields take the defaults")
		for _, want := range []string{"Médiateur, 2 impasse Exemple, 91000 Évry", "du lundi au jeudi, de 9 h à 16 h", "le lundi matin"} {
			require.Contains(t, r.Text, want, ch)
			if ch == "email" {
				require.Contains(t, r.HTML, want)
			}
		}
	}
}

func TestHTMLEscapesRecipientData(t *testing.T) {
	t.Parallel()
	set := setup(t)
	in := Input{
		Recipient: Recipient{Ref: `"><a href="https://evil.example">x</a>`, Civility: "Mme", GivenName: "<b>Eve</b>", FamilyName: `<script>alert(1)</script>`},
		Data:      SampleData(KindRightsOpened),
	}
	in.Data["benefit"] = `"><a href="https://evil.example/phish">Cliquez ici</a>`
	r, err := set.Render(KindRightsOpened, "email", in)
	require.NoError(t, err)
	require.NotContains(t, r.HTML, "<script>")
	require.NotContains(t, r.HTML, `<a href="https://evil.example`)
	require.NotContains(t, r.HTML, "<b>Eve")
	require.Contains(t, r.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;")
	require.Contains(t, r.HTML, "&#34;&gt;&lt;a href=&#34;https://evil.example/phish&#34;&gt;Cliquez ici&lt;/a&gt;")
	// The title and the subject are escaped too.
	require.Contains(t, r.HTML, "<title>Vos droits sont ouverts : &#34;&gt;&lt;a href=")
	// The text part is plain text: it carries the characters as they are.
	require.Contains(t, r.Text, "Bonjour Madame <script>alert(1)</script>,")
}

func TestRenderDataErrors(t *testing.T) {
	t.Parallel()
	set := setup(t)
	cases := []struct {
		name           string
		key, channel   string
		change         func(map[string]any)
		field, expects string
		reason         string
	}{
		{"missing", KindRightsOpened, "email", func(d map[string]any) { delete(d, "amount") }, "amount", "money", "missing"},
		{"null", KindRightsOpened, "sms", func(d map[string]any) { d["amount"] = nil }, "amount", "money", "missing"},
		{"money as words", KindRightsOpened, "letter", func(d map[string]any) { d["amount"] = "deux cents euros" }, "amount", "money", "not an amount"},
		{"money with 3 decimals", KindRightsOpened, "email", func(d map[string]any) { d["amount"] = "12.345" }, "amount", "money", "not an amount"},
		// Issue 16: a number with three decimals was rounded to 12,35 €.
		{"money number with 3 decimals", KindRightsOpened, "email", func(d map[string]any) { d["amount"] = 12.345 }, "amount", "money", "at most two decimals"},
		{"bad date", KindRightsOpened, "email", func(d map[string]any) { d["effective_date"] = "15/03/2027" }, "effective_date", "date", "not a date"},
		{"date as number", KindRightsOpened, "email", func(d map[string]any) { d["effective_date"] = 20270315.0 }, "effective_date", "date", "got a number"},
		{"string as number", KindRightsOpened, "email", func(d map[string]any) { d["benefit"] = 12.0 }, "benefit", "string", "got a number"},
		{"int with fraction", KindYearlyStatement, "email", func(d map[string]any) { d["year"] = 2026.5 }, "year", "int", "not a whole number"},
		{"bool as string", KindNoRights, "email", func(d map[string]any) { d["ended"] = "true" }, "ended", "bool", "got a string"},
		{"list of numbers", KindReminderMissingDocument, "email", func(d map[string]any) { d["documents"] = []any{"a", 2.0} }, "documents", "list", "item 1 is a number"},
		{"list as string", KindReminderMissingDocument, "sms", func(d map[string]any) { d["documents"] = "a, b" }, "documents", "list", "got a string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := SampleData(tc.key)
			tc.change(data)
			r, err := set.Render(tc.key, tc.channel, Input{Recipient: SampleRecipient(), Data: data})
			require.Nil(t, r, "nothing is rendered")
			var re *RenderError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tc.key+"/"+tc.channel, re.Template)
			require.Equal(t, tc.field, re.Field)
			require.Equal(t, tc.expects, re.Expected)
			require.Contains(t, re.Reason, tc.reason)
			msg := err.Error()
			require.Contains(t, msg, tc.key+"/"+tc.channel)
			require.Contains(t, msg, `field "`+tc.field+`"`)
			require.Contains(t, msg, "expected "+tc.expects)
			require.NotContains(t, msg, "deux cents", "values stay out of error messages")
		})
	}
}

func TestRenderAcceptsJSONShapes(t *testing.T) {
	t.Parallel()
	set := setup(t)
	for _, amount := range []any{1234.56, "1234.56", json.Number("1234.56"), "1234.5600"[:7]} {
		data := SampleData(KindRightsOpened)
		data["amount"] = amount
		data["effective_date"] = "2027-03-14T23:30:00Z" // already 15 March in Paris
		r, err := set.Render(KindRightsOpened, "letter", Input{Recipient: SampleRecipient(), Data: data})
		require.NoError(t, err, "%T %v", amount, amount)
		require.Contains(t, r.Text, "Montant mensuel : 1\u202F234,56\u00A0€")
		require.Contains(t, r.Text, "À partir du : 15 mars 2027")
	}
	data := SampleData(KindYearlyStatement)
	data["year"] = json.Number("2026")
	data["benefits"] = []string{"Allocations familiales"}
	r, err := set.Render(KindYearlyStatement, "email", Input{Recipient: SampleRecipient(), Data: data})
	require.NoError(t, err)
	require.Contains(t, r.Text, "Prestation versée :\n- Allocations familiales\n")
	require.Contains(t, r.Subject, "2026")
}

func TestNoRightsSaysRefusalOrEnd(t *testing.T) {
	t.Parallel()
	set := setup(t)
	data := SampleData(KindNoRights)
	data["ended"] = true
	r, err := set.Render(KindNoRights, "email", Input{Recipient: SampleRecipient(), Data: data})
	require.NoError(t, err)
	require.Equal(t, "Fin de vos droits : Revenu de solidarité active", r.Subject)
	require.Contains(t, r.Text, "prennent fin le 15 mars 2027")
	data["ended"] = false
	r, err = set.Render(KindNoRights, "email", Input{Recipient: SampleRecipient(), Data: data})
	require.NoError(t, err)
	require.Equal(t, "Réponse à votre demande : Revenu de solidarité active", r.Subject)
	require.Contains(t, r.Text, "nous ne sommes pas en mesure de vous accorder")
}

func TestFrenchHelpers(t *testing.T) {
	t.Parallel()
	for cents, want := range map[Money]string{
		0: "0,00\u00A0€", 5: "0,05\u00A0€", 99999: "999,99\u00A0€", 100000: "1\u202F000,00\u00A0€",
		123456: "1\u202F234,56\u00A0€", 123456789: "1\u202F234\u202F567,89\u00A0€", -4250: "-42,50\u00A0€",
	} {
		require.Equal(t, want, cents.String())
	}
	for in, want := range map[string]string{
		"2027-03-15": "15 mars 2027", "2027-03-01": "1er mars 2027", "2027-08-31": "31 août 2027",
		"2027-12-31T23:30:00Z": "1er janvier 2028", "2027-02-10T10:00:00-05:00": "10 février 2027",
	} {
		got, err := formatDate(in)
		require.NoError(t, err)
		require.Equal(t, want, got, in)
	}
	got, err := formatDate(time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Equal(t, "1er juin 2027", got)
	_, err = formatMoney("abc")
	require.Error(t, err)
	m, err := formatMoney(0.1 + 0.2)
	require.NoError(t, err)
	require.Equal(t, "0,30\u00A0€", m)

	mme := Recipient{Civility: "Mme", GivenName: "Claire", FamilyName: "Martin"}
	m2 := Recipient{Civility: "M.", GivenName: "Karim", FamilyName: "Benali"}
	none := Recipient{GivenName: "Sam", FamilyName: "Durand"}
	require.Equal(t, "Madame", civility(mme))
	require.Equal(t, "Monsieur", civility(m2))
	require.Equal(t, "Madame, Monsieur", civility(none))
	require.Equal(t, "Madame Martin", salutation(mme))
	require.Equal(t, "Monsieur Benali", salutation(m2))
	require.Equal(t, "Sam Durand", salutation(none))
	require.Equal(t, "Madame, Monsieur", salutation(Recipient{}))
	require.Equal(t, "Mme Claire Martin", fullName(mme))
	require.Equal(t, "a, b et c", join([]string{"a", "b", "c"}, ", "))
	require.Equal(t, "www.caf.fr", site("https://www.caf.fr/"))
	require.Equal(t, []string{"Un.", "Deux\ntrois."}, paragraphs("Un.\n\n\n Deux\ntrois. \n"))
}

// writeOverride writes files into a fresh override directory.
func writeOverride(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	return dir
}

const customSMS = `---
kind: appointment_reminder
channel: sms
max_segments: 1
fields:
  when: date   # date du rendez-vous
---
{{.Agency.Name}} : rendez-vous le {{.when}}.
`

func TestOverrideDirReplacesAndAdds(t *testing.T) {
	t.Parallel()
	defaults := setup(t)
	replaced := `---
kind: rights_opened
channel: sms
fields:
  benefit: string
---
{{.Agency.Name}} : bonne nouvelle, vos droits ({{.benefit}}) sont ouverts.
`
	dir := writeOverride(t, map[string]string{
		"rights_opened.sms.tmpl":        replaced,
		"appointment_reminder.sms.tmpl": customSMS,
		"notes.txt":                     "ignored: not a template",
	})
	set, err := Load(&Options{OverrideDir: dir, Agency: Agency{Name: "Caf du Rhône"}})
	require.NoError(t, err)

	r, err := set.Render(KindRightsOpened, "sms", Input{Data: map[string]any{"benefit": "Prime d'activité"}})
	require.NoError(t, err)
	require.Equal(t, "Caf du Rhône : bonne nouvelle, vos droits (Prime d'activité) sont ouverts.", r.Text)
	require.NotEqual(t, defaults.Version(KindRightsOpened, "sms"), r.Version)
	require.Equal(t, defaults.Version(KindRightsOpened, "email"), set.Version(KindRightsOpened, "email"), "others keep the default")

	require.True(t, set.Has("appointment_reminder", "sms"))
	require.False(t, set.Has("appointment_reminder", "email"))
	require.Contains(t, set.Keys(), "appointment_reminder")
	require.Equal(t, []Field{{Name: "when", Type: TypeDate, Description: "date du rendez-vous", Line: 6}}, set.Fields("appointment_reminder", "sms"))
	r, err = set.Render("appointment_reminder", "sms", Input{Data: map[string]any{"when": "2027-05-02"}})
	require.NoError(t, err)
	require.Equal(t, "Caf du Rhône : rendez-vous le 2 mai 2027.", r.Text)
}

func TestOverrideCanReplaceAPartial(t *testing.T) {
	t.Parallel()
	defaults := setup(t)
	src, err := defaultFiles.ReadFile("defaults/_common.txt.tmpl")
	require.NoError(t, err)
	changed := strings.Replace(string(src), "Cordialement,", "Bien cordialement,", 1)
	set, err := Load(&Options{OverrideDir: writeOverride(t, map[string]string{"_common.txt.tmpl": changed})})
	require.NoError(t, err)
	r, err := set.Render(KindRightsOpened, "email", Input{Recipient: SampleRecipient(), Data: SampleData(KindRightsOpened)})
	require.NoError(t, err)
	require.Contains(t, r.Text, "Bien cordialement,\nVotre Caf")
	require.NotEqual(t, defaults.Version(KindRightsOpened, "email"), r.Version, "a partial is part of the version")
}

func TestLoadRejectsBrokenTemplates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, file, content string
		want                []string
	}{
		{"syntax error", "bad.sms.tmpl", "---\nkind: bad\nchannel: sms\n---\nBonjour\n{{.Recipient.GivenName)}}\n", []string{"bad.sms.tmpl:6", "unexpected right paren"}},
		{"unclosed action", "bad.sms.tmpl", "---\nkind: bad\nchannel: sms\n---\nBonjour\n{{if .Recipient.GivenName}}\n", []string{"bad.sms.tmpl:7", "unexpected EOF"}},
		{"undeclared field", "bad.sms.tmpl", "---\nkind: bad\nchannel: sms\nfields:\n  amount: money\n---\nMontant : {{.amount}}\nDate : {{.deadline}}\n", []string{"bad.sms.tmpl:8", `field "deadline" is not declared`}},
		{"undeclared field in html", "bad.email.tmpl", "---\nkind: bad\nchannel: email\nsubject: Objet\n---\n-- html --\n<h1>Titre</h1>\n\n<p>{{.amount}}</p>\n-- text --\nTitre\n", []string{"bad.email.tmpl:9", `field "amount" is not declared`}},
		{"undeclared field in subject", "bad.email.tmpl", "---\nkind: bad\nchannel: email\nsubject: Objet {{.ref}}\n---\n-- html --\n<h1>Titre</h1>\n-- text --\nTitre\n", []string{"bad.email.tmpl:4", `field "ref" is not declared`}},
		{"undeclared field via $", "bad.sms.tmpl", "---\nkind: bad\nchannel: sms\nfields:\n  docs: list\n---\n{{range .docs}}{{.}} {{$.other}}{{end}}\n", []string{"bad.sms.tmpl:7", `field "other" is not declared`}},
		{"unknown recipient field", "bad.sms.tmpl", "---\nkind: bad\nchannel: sms\n---\n{{.Recipient.Email}}\n", []string{"bad.sms.tmpl:5", "unknown field .Recipient.Email"}},
		{"unknown type", "bad.sms.tmpl", "---\nkind: bad\nchannel: sms\nfields:\n  ok: string\n  amount: euros\n---\nx\n", []string{"bad.sms.tmpl:6", `unknown type "euros"`}},
		{"unknown function", "bad.sms.tmpl", "---\nkind: bad\nchannel: sms\n---\n\n{{shout .Recipient.GivenName}}\n", []string{"bad.sms.tmpl:6", `function "shout" not defined`}},
		{"unknown partial", "bad.sms.tmpl", "---\nkind: bad\nchannel: sms\n---\n{{template \"nope\" .}}\n", []string{"bad.sms.tmpl:5", `template "nope" is not defined`}},
		{"unclosed front matter", "bad.sms.tmpl", "---\nkind: bad\nchannel: sms\n", []string{"bad.sms.tmpl:", "not closed"}},
		{"email without text part", "bad.email.tmpl", "---\nkind: bad\nchannel: email\nsubject: S\n---\n-- html --\n<h1>x</h1>\n", []string{"bad.email.tmpl:5", "text"}},
		{"unknown channel", "bad.fax.tmpl", "---\nkind: bad\nchannel: fax\n---\nx\n", []string{"bad.fax.tmpl:3", `unknown channel "fax"`}},
		{"html context error", "bad.email.tmpl", "---\nkind: bad\nchannel: email\nsubject: S\n---\n-- html --\n<h1>x</h1>\n<a href=\"{{.Recipient.Ref}}\n-- text --\nx\n", []string{"bad.email.tmpl:7", "in attribute name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := writeOverride(t, map[string]string{tc.file: tc.content})
			set, err := Load(&Options{OverrideDir: dir})
			require.Nil(t, set)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.Contains(t, err.Error(), filepath.Join(dir, tc.file), "the error names the file")
		})
	}
}

func TestLoadRejectsDuplicateKindAndChannel(t *testing.T) {
	t.Parallel()
	dir := writeOverride(t, map[string]string{"other-name.sms.tmpl": strings.Replace(customSMS, "appointment_reminder", "rights_opened", 1)})
	_, err := Load(&Options{OverrideDir: dir})
	require.ErrorContains(t, err, "rights_opened/sms is already defined by")
}

func TestLoadMissingOverrideDir(t *testing.T) {
	t.Parallel()
	_, err := Load(&Options{OverrideDir: filepath.Join(t.TempDir(), "absent")})
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestFieldsAndSampleData(t *testing.T) {
	t.Parallel()
	set := setup(t)
	require.Equal(t, []Field{
		{Name: "benefit", Type: TypeString, Description: "nom de la prestation, ex. « Prime d'activité »", Line: 7},
		{Name: "amount", Type: TypeMoney, Description: "montant mensuel", Line: 8},
		{Name: "effective_date", Type: TypeDate, Description: "date d'ouverture des droits", Line: 9},
	}, set.Fields(KindRightsOpened, "email"))
	require.Nil(t, set.Fields("nope", "email"))
	for _, key := range DefaultKinds() {
		data := SampleData(key)
		require.NotNil(t, data, key)
		for _, f := range set.KindFields(key) {
			require.Contains(t, data, f.Name, "%s: sample data lacks %s", key, f.Name)
		}
	}
	require.Nil(t, SampleData("nope"))
	d := SampleData(KindReminderMissingDocument)
	d["documents"].([]any)[0] = "changed"
	require.NotEqual(t, "changed", SampleData(KindReminderMissingDocument)["documents"].([]any)[0], "SampleData returns a copy")
}

func TestRenderUnknownTemplate(t *testing.T) {
	t.Parallel()
	_, err := setup(t).Render("nope", "email", Input{})
	require.Error(t, err)
	var re *RenderError
	require.False(t, errors.As(err, &re), "an unknown template is a programming error, not a data error")
}

func TestRenderErrorMessage(t *testing.T) {
	t.Parallel()
	err := &RenderError{Template: "rights_opened/email", Field: "amount", Expected: "money", Reason: "missing"}
	require.Equal(t, `template rights_opened/email: field "amount": expected money: missing`, err.Error())
}

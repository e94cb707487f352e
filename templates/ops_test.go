package templates

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func lintLine(rep *LintReport, level, name string) string {
	for _, l := range rep.Lines {
		if l.Level == level && l.Name == name {
			return l.Message
		}
	}
	return ""
}

func lintMessages(rep *LintReport, level, name string) []string {
	var out []string
	for _, l := range rep.Lines {
		if l.Level == level && l.Name == name {
			out = append(out, l.Message)
		}
	}
	return out
}

func TestLintDefaults(t *testing.T) {
	t.Parallel()
	rep, err := Lint(nil)
	require.NoError(t, err)
	require.Equal(t, 45, rep.Templates)
	require.Zero(t, rep.Problems)
	require.Contains(t, lintLine(rep, "ok", "rights_opened/sms"), "GSM-7, 1/2 segments,")
}

func TestLintFindsProblems(t *testing.T) {
	t.Parallel()
	dir := writeOverride(t, map[string]string{
		// Over its SMS budget with sample data.
		"rights_opened.sms.tmpl": "---\nkind: rights_opened\nchannel: sms\nmax_segments: 1\nfields:\n  benefit: string\n---\n" + strings.Repeat("Texte trop long. ", 12) + "{{.benefit}}\n",
		// HTML rules: no h1, an image without alt, a heading missing from the text part.
		"rights_changed.email.tmpl": "---\nkind: rights_changed\nchannel: email\nsubject: Objet\nfields:\n  unused: string\n---\n-- html --\n<h2>Titre</h2>\n<img src=\"logo.png\">\n-- text --\nAutre chose\n",
	})
	rep, err := Lint(&Options{OverrideDir: dir})
	require.ErrorIs(t, err, ErrLint)
	require.Equal(t, 5, rep.Problems)
	require.Contains(t, lintLine(rep, "fail", "rights_opened/sms"), "template rights_opened/sms: SMS needs 2 segments")
	require.ElementsMatch(t, []string{
		"the first heading is not an h1",
		"HTML has 0 h1 headings, want exactly 1",
		`heading "Titre" is missing from the plain-text part`,
		`an image has no alt text: <img src="logo.png">`,
	}, lintMessages(rep, "fail", "rights_changed/email"))
	require.Equal(t, "declared but unused: unused", lintLine(rep, "warn", "rights_changed/email"))
}

func TestLintReportsLoadErrors(t *testing.T) {
	t.Parallel()
	dir := writeOverride(t, map[string]string{"x.sms.tmpl": "---\nkind: x\nchannel: sms\n---\n{{.nope}}\n"})
	rep, err := Lint(&Options{OverrideDir: dir})
	require.ErrorIs(t, err, ErrLint)
	require.Contains(t, rep.LoadError, filepath.Join(dir, "x.sms.tmpl")+":5:")
}

func TestList(t *testing.T) {
	t.Parallel()
	list := setup(t).List()
	require.Len(t, list, 45)
	var found bool
	for _, i := range list {
		if i.Key == "rights_opened" && i.Channel == "email" {
			found = true
			require.Equal(t, "defaults/rights_opened.email.tmpl", i.File)
			require.Len(t, i.Version, 64)
			var names []string
			for _, f := range i.Fields {
				names = append(names, f.Name+":"+string(f.Type))
			}
			require.Equal(t, []string{"benefit:string", "amount:money", "effective_date:date"}, names)
		}
	}
	require.True(t, found)
}

func TestPreviewMessage(t *testing.T) {
	t.Parallel()
	set := setup(t)
	in, err := DecodeInput(strings.NewReader(`{
		"recipient": {"ref": "7654321", "civility": "M.", "given_name": "Karim", "family_name": "Benali"},
		"data": {"benefit": "Allocation de rentrée scolaire", "amount": 416.40, "effective_date": "2027-08-20"}
	}`))
	require.NoError(t, err)

	p, err := set.PreviewMessage(KindRightsOpened, "sms", &in)
	require.NoError(t, err)
	require.Equal(t, "GSM-7", p.SMS.Encoding)
	require.Equal(t, 1, p.SMS.Segments)
	require.Equal(t, 2, p.MaxSegments)
	require.Contains(t, p.Text, "Caf : vos droits sont ouverts (Allocation de rentrée scolaire), 416,40 € par mois à partir du 20 aout 2027.", "transliterated: û is not GSM-7")

	p, err = set.PreviewMessage(KindRightsOpened, "email", &in)
	require.NoError(t, err)
	require.Contains(t, p.Text, "Bonjour Monsieur Benali,")
	require.True(t, strings.HasPrefix(p.HTML, "<!DOCTYPE html>"))

	// Sample data when no input is given; errors for bad input.
	p, err = set.PreviewMessage(KindComplaintAnswer, "letter", nil)
	require.NoError(t, err)
	require.Contains(t, p.Text, "Objet : Réponse à votre réclamation (réf. REC-2027-000871)")
	_, err = set.PreviewMessage("nope", "email", nil)
	require.Error(t, err)
	in, err = DecodeInput(strings.NewReader(`{"benefit": "x"}`))
	require.NoError(t, err)
	_, err = set.PreviewMessage(KindRightsOpened, "sms", &in)
	var re *RenderError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "amount", re.Field)
}

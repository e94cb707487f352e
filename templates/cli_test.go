package templates

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLintDefaults(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, LintCommand(&out, nil), out.String())
	require.Contains(t, out.String(), "45 templates, 0 problems")
	require.Contains(t, out.String(), "ok   rights_opened/sms (GSM-7, 1/2 segments,")
	require.NotContains(t, out.String(), "FAIL")
}

func TestLintFindsProblems(t *testing.T) {
	t.Parallel()
	dir := writeOverride(t, map[string]string{
		// Over its SMS budget with sample data.
		"rights_opened.sms.tmpl": "---\nkind: rights_opened\nchannel: sms\nmax_segments: 1\nfields:\n  benefit: string\n---\n" + strings.Repeat("Texte trop long. ", 12) + "{{.benefit}}\n",
		// HTML rules: no h1, an image without alt, a heading missing from the text part.
		"rights_changed.email.tmpl": "---\nkind: rights_changed\nchannel: email\nsubject: Objet\nfields:\n  unused: string\n---\n-- html --\n<h2>Titre</h2>\n<img src=\"logo.png\">\n-- text --\nAutre chose\n",
	})
	var out bytes.Buffer
	err := LintCommand(&out, &Options{OverrideDir: dir})
	require.ErrorIs(t, err, ErrLint)
	s := out.String()
	require.Contains(t, s, "FAIL rights_opened/sms: template rights_opened/sms: SMS needs 2 segments")
	require.Contains(t, s, "FAIL rights_changed/email: the first heading is not an h1")
	require.Contains(t, s, "FAIL rights_changed/email: HTML has 0 h1 headings, want exactly 1")
	require.Contains(t, s, `FAIL rights_changed/email: heading "Titre" is missing from the plain-text part`)
	require.Contains(t, s, `FAIL rights_changed/email: an image has no alt text: <img src="logo.png">`)
	require.Contains(t, s, "warn rights_changed/email: declared but unused: unused")
	require.Contains(t, s, "45 templates, 5 problems")
}

func TestLintReportsLoadErrors(t *testing.T) {
	t.Parallel()
	dir := writeOverride(t, map[string]string{"x.sms.tmpl": "---\nkind: x\nchannel: sms\n---\n{{.nope}}\n"})
	var out bytes.Buffer
	err := LintCommand(&out, &Options{OverrideDir: dir})
	require.ErrorIs(t, err, ErrLint)
	require.Contains(t, out.String(), filepath.Join(dir, "x.sms.tmpl")+":5:")
}

func TestListCommand(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, ListCommand(&out, setup(t)))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 1+45)
	require.Regexp(t, `^rights_opened\s+email\s+[0-9a-f]{12}\s+benefit:string amount:money effective_date:date\s+defaults/rights_opened.email.tmpl$`, findLine(lines, "rights_opened", "email"))
	require.Regexp(t, `^outreach_separation\s+sms\s+[0-9a-f]{12}\s+-\s+defaults/`, findLine(lines, "outreach_separation", "sms"))
}

func findLine(lines []string, key, ch string) string {
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) > 1 && f[0] == key && f[1] == ch {
			return l
		}
	}
	return ""
}

func TestPreviewCommand(t *testing.T) {
	t.Parallel()
	set := setup(t)
	dataFile := filepath.Join(t.TempDir(), "data.json")
	require.NoError(t, os.WriteFile(dataFile, []byte(`{
		"recipient": {"ref": "7654321", "civility": "M.", "given_name": "Karim", "family_name": "Benali"},
		"data": {"benefit": "Allocation de rentrée scolaire", "amount": 416.40, "effective_date": "2027-08-20"}
	}`), 0o644))

	var out bytes.Buffer
	require.NoError(t, PreviewCommand(&out, set, PreviewOptions{Key: KindRightsOpened, Channel: "sms", DataFile: dataFile}))
	s := out.String()
	require.Contains(t, s, "Template: rights_opened/sms\n")
	require.Contains(t, s, "SMS:      GSM-7, 1 segment(s) of at most 2,")
	require.Contains(t, s, "Caf : vos droits sont ouverts (Allocation de rentrée scolaire), 416,40 € par mois à partir du 20 aout 2027.", "transliterated: û is not GSM-7")

	out.Reset()
	require.NoError(t, PreviewCommand(&out, set, PreviewOptions{Key: KindRightsOpened, Channel: "email", DataFile: dataFile}))
	require.Contains(t, out.String(), "Bonjour Monsieur Benali,")
	require.Contains(t, out.String(), "----- html -----\n<!DOCTYPE html>")

	// Data only, from stdin, written to files.
	outDir := filepath.Join(t.TempDir(), "preview")
	out.Reset()
	require.NoError(t, PreviewCommand(&out, set, PreviewOptions{
		Key: KindReminderGeneric, Channel: "email", DataFile: "-", OutDir: outDir,
		Stdin: strings.NewReader(`{"title": "Rendez-vous", "message": "Rendez-vous mardi."}`),
	}))
	html, err := os.ReadFile(filepath.Join(outDir, "message.html"))
	require.NoError(t, err)
	require.Contains(t, string(html), "<h1>Rendez-vous</h1>")
	subject, err := os.ReadFile(filepath.Join(outDir, "subject.txt"))
	require.NoError(t, err)
	require.Equal(t, "Rendez-vous\n", string(subject))
	require.FileExists(t, filepath.Join(outDir, "message.txt"))

	// Sample data when no file is given; errors for bad input.
	out.Reset()
	require.NoError(t, PreviewCommand(&out, set, PreviewOptions{Key: KindComplaintAnswer, Channel: "letter"}))
	require.Contains(t, out.String(), "Objet : Réponse à votre réclamation (réf. REC-2027-000871)")
	require.Error(t, PreviewCommand(&out, set, PreviewOptions{Key: "nope", Channel: "email"}))
	var re *RenderError
	err = PreviewCommand(&out, set, PreviewOptions{Key: KindRightsOpened, Channel: "sms", DataFile: "-", Stdin: strings.NewReader(`{"benefit": "x"}`)})
	require.ErrorAs(t, err, &re)
	require.Equal(t, "amount", re.Field)
}

package bounce_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/channels/bounce"
)

// TestCorpus classifies every fixture of testdata/corpus.
func TestCorpus(t *testing.T) {
	t.Parallel()
	type want struct {
		typ      bounce.Type
		format   string
		class    bounce.Class
		statuses []string
		rule     bounce.Rule // of the first recipient
		why      string
	}
	cases := map[string]want{
		"postfix_user_unknown.eml":     {bounce.TypeBounce, "dsn", bounce.Hard, []string{"5.1.1"}, "status 5.1.1", ""},
		"exim-mailbox-full.eml":        {bounce.TypeBounce, "dsn", bounce.Soft, []string{"5.2.2"}, "status 5.2.2", ""},
		"m365-recipient-not-found.eml": {bounce.TypeBounce, "dsn", bounce.Hard, []string{"5.1.10"}, "status 5.1.10", ""},
		"gmail-no-such-user.eml":       {bounce.TypeBounce, "dsn", bounce.Hard, []string{"5.1.1"}, "status 5.1.1", ""},
		"orange-boite-inexistante.eml": {bounce.TypeBounce, "dsn", bounce.Hard, []string{"5.1.1"}, "status 5.1.1", ""},
		"sfr-quota.eml":                {bounce.TypeBounce, "heuristic", bounce.Soft, []string{"4.2.2"}, "status 4.2.2", ""},
		"laposte-inconnu.eml":          {bounce.TypeBounce, "dsn", bounce.Hard, []string{"5.0.0"}, "smtp 550", ""},
		"qmail-failure.eml":            {bounce.TypeBounce, "heuristic", bounce.Hard, []string{"5.1.1"}, "status 5.1.1", ""},
		"exchange-onprem-global.eml":   {bounce.TypeBounce, "dsn", bounce.Hard, []string{"5.2.1"}, "status 5.2.1", ""},
		"two-recipients.eml":           {bounce.TypeBounce, "dsn", bounce.Hard, []string{"5.1.1", "5.4.7"}, "status 5.1.1", ""},
		"arf-complaint.eml":            {typ: bounce.TypeComplaint, format: "arf"},
		"auto-reply.eml":               {typ: bounce.TypeIgnored, why: "auto-reply"},
		"delayed.eml":                  {typ: bounce.TypeIgnored, format: "dsn", why: "delayed"},
	}
	files, err := filepath.Glob("testdata/corpus/*.eml")
	require.NoError(t, err)
	require.Len(t, files, len(cases), "every fixture has an expectation")
	for _, f := range files {
		name := filepath.Base(f)
		w, ok := cases[name]
		require.True(t, ok, "no expectation for %s", name)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			r, err := bounce.Parse(raw)
			require.NoError(t, err)
			require.Equal(t, w.typ, r.Type, "type (why %q)", r.Why)
			require.Equal(t, w.format, r.Format)
			require.Equal(t, w.why, r.Why)
			require.Equal(t, w.class, r.Class())
			var statuses []string
			for _, rc := range r.Recipients {
				statuses = append(statuses, rc.Status)
				require.NotContains(t, rc.Diagnostic, "@", "diagnostics are reduced")
			}
			require.Equal(t, w.statuses, statuses)
			if len(r.Recipients) > 0 {
				require.Equal(t, w.rule, r.Recipients[0].Rule)
			}
			require.True(t, slices.ContainsFunc(r.ReturnPaths, func(a string) bool { return strings.HasPrefix(a, "bounces+d1") }),
				"the VERP address is among the return paths: %v", r.ReturnPaths)
			if w.typ == bounce.TypeComplaint {
				require.Equal(t, "abuse", r.FeedbackType)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status string
		code   int
		text   string
		class  bounce.Class
		rule   bounce.Rule
	}{
		{"5.1.1", 550, "", bounce.Hard, "status 5.1.1"},
		{"5.7.1", 550, "rejected by policy", bounce.Soft, "status 5.7.1"},
		{"4.2.2", 452, "", bounce.Soft, "status 4.2.2"},
		{"", 550, "", bounce.Hard, "smtp 550"},
		{"", 552, "", bounce.Soft, "smtp 552"},
		{"", 0, "Adresse inconnue", bounce.Hard, "keyword adresse inconnue"},
		{"", 0, "Boîte pleine", bounce.Soft, "keyword boîte pleine"},
		{"", 0, "something odd", bounce.Soft, "default"},
		{"", 0, "Remote host said: 553 sorry", bounce.Hard, "smtp 553"},
	} {
		c, rule := bounce.Classify(tc.status, tc.code, tc.text)
		require.Equal(t, tc.class, c, "%+v", tc)
		require.Equal(t, tc.rule, rule, "%+v", tc)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/corpus/*.eml")
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err == nil {
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := bounce.Parse(raw)
		if err != nil {
			return
		}
		switch r.Type {
		case bounce.TypeBounce:
			if len(r.Recipients) == 0 {
				t.Fatal("a bounce without a recipient")
			}
		case bounce.TypeComplaint, bounce.TypeIgnored:
		default:
			t.Fatalf("unknown type %q", r.Type)
		}
		for _, rc := range r.Recipients {
			if rc.Class != bounce.Hard && rc.Class != bounce.Soft {
				t.Fatalf("unclassified recipient %+v", rc)
			}
		}
	})
}

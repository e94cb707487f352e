package templates

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAnalyzeSMS(t *testing.T) {
	t.Parallel()
	a := strings.Repeat
	cases := []struct {
		name       string
		text       string
		encoding   string
		segments   int
		characters int
	}{
		{"empty", "", EncodingGSM7, 0, 0},
		{"plain", "Bonjour", EncodingGSM7, 1, 7},
		{"french accents in GSM-7", "àéèùìòÇÉ", EncodingGSM7, 1, 8},
		{"160 septets", a("a", 160), EncodingGSM7, 1, 160},
		{"161 septets", a("a", 161), EncodingGSM7, 2, 161},
		{"306 septets", a("a", 306), EncodingGSM7, 2, 306},
		{"307 septets", a("a", 307), EncodingGSM7, 3, 307},
		{"459 septets", a("a", 459), EncodingGSM7, 3, 459},
		{"460 septets", a("a", 460), EncodingGSM7, 4, 460},
		{"euro sign counts two", "12 €", EncodingGSM7, 1, 5},
		{"brackets count two", "[x]", EncodingGSM7, 1, 5},
		{"all extension characters", "^{}\\[~]|€\f", EncodingGSM7, 1, 20},
		{"80 euros fill 160", a("€", 80), EncodingGSM7, 1, 160},
		{"extension tips over 160", a("a", 159) + "€", EncodingGSM7, 2, 161},
		// An escape pair is never split: 152 plain + € would end at 154 in
		// the first part, so € starts the second one.
		{"escape pair not split", a("a", 152) + "€" + a("a", 10), EncodingGSM7, 2, 164},
		{"escape pair pushes a third part", a("a", 152) + "€" + a("a", 152), EncodingGSM7, 3, 306},
		{"ê needs UCS-2", "Vous êtes", EncodingUCS2, 1, 9},
		{"ç needs UCS-2", "reçu", EncodingUCS2, 1, 4},
		{"typographic apostrophe needs UCS-2", "l’aide", EncodingUCS2, 1, 6},
		{"70 UCS-2", a("ê", 70), EncodingUCS2, 1, 70},
		{"71 UCS-2", a("ê", 71), EncodingUCS2, 2, 71},
		{"134 UCS-2", a("ê", 134), EncodingUCS2, 2, 134},
		{"135 UCS-2", a("ê", 135), EncodingUCS2, 3, 135},
		{"emoji is two UTF-16 units", "👍", EncodingUCS2, 1, 2},
		{"35 emoji fill 70", a("👍", 35), EncodingUCS2, 1, 70},
		// 66 units then a surrogate pair: the pair moves to the second part.
		{"surrogate pair not split", "ê" + a("a", 65) + "👍" + a("b", 5), EncodingUCS2, 2, 73},
		{"no-break space is UCS-2", "1\u202F234,56\u00A0€", EncodingUCS2, 1, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := AnalyzeSMS(tc.text)
			require.Equal(t, SMSInfo{Encoding: tc.encoding, Segments: tc.segments, Characters: tc.characters}, got)
		})
	}
}

func TestTransliterateGSM(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"Vous êtes prêt à reçevoir":           "Vous etes pret à recevoir",
		"Août, Noël, maïs, où, île, hôte, dû": "Aout, Noel, mais, où, ile, hote, du",
		"L’aide « logement » … — fin":         "L'aide \"logement\" ... - fin",
		"“Bonjour” ‘toi’":                     "\"Bonjour\" 'toi'",
		"1\u202F234,56\u00A0€":                "1 234,56 €",
		"Cœur, ŒUVRE, Ça, ÉTÉ, Être":          "Coeur, OEUVRE, Ça, ÉTÉ, Etre",
		"déjà, été, Çà, élève, ü, ñ, ß":       "déjà, été, Çà, élève, ü, ñ, ß",
		"n° 12":   "no 12",
		"Merci 👍": "Merci 👍",
		"«\u00A0guillemets\u00A0» et «\u202Fx»": "\"guillemets\" et \"x\"",
	}
	for in, want := range cases {
		got := TransliterateGSM(in)
		require.Equal(t, want, got, in)
	}
	// Everything transliterated from French text fits GSM-7.
	fr := "Où êtes-vous ? Ça déçoit : l’été, « naïf » … Noël à Côme, cœur, â î ô û ë ï ÿ."
	require.Equal(t, EncodingGSM7, AnalyzeSMS(TransliterateGSM(fr)).Encoding)
	require.Equal(t, EncodingUCS2, AnalyzeSMS(fr).Encoding)
}

func TestSMSBudgetEnforcedAtRender(t *testing.T) {
	t.Parallel()
	dir := writeOverride(t, map[string]string{
		"long.sms.tmpl": "---\nkind: long_notice\nchannel: sms\nmax_segments: 1\nfields:\n  message: string\n---\n{{.message}}\n",
		"ucs.sms.tmpl":  "---\nkind: ucs_notice\nchannel: sms\nfields:\n  message: string\n---\n{{.message}}\n",
		"tr.sms.tmpl":   "---\nkind: tr_notice\nchannel: sms\ntransliterate: true\nmax_segments: 1\nfields:\n  message: string\n---\n{{.message}}\n",
	})
	set, err := Load(&Options{OverrideDir: dir})
	require.NoError(t, err)

	r, err := set.Render("long_notice", "sms", Input{Data: map[string]any{"message": strings.Repeat("a", 160)}})
	require.NoError(t, err)
	require.Equal(t, 1, r.SMS.Segments)

	_, err = set.Render("long_notice", "sms", Input{Data: map[string]any{"message": strings.Repeat("a", 161)}})
	var re *RenderError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "long_notice/sms", re.Template)
	require.Contains(t, err.Error(), "SMS needs 2 segments (161 GSM-7 units), over its budget of 1")

	// Default budget is 2 segments: 134 UCS-2 units fit, 135 do not.
	r, err = set.Render("ucs_notice", "sms", Input{Data: map[string]any{"message": strings.Repeat("ê", 134)}})
	require.NoError(t, err)
	require.Equal(t, SMSInfo{Encoding: EncodingUCS2, Segments: 2, Characters: 134}, *r.SMS)
	_, err = set.Render("ucs_notice", "sms", Input{Data: map[string]any{"message": strings.Repeat("ê", 135)}})
	require.ErrorAs(t, err, &re)

	// Transliteration happens before the budget is measured.
	r, err = set.Render("tr_notice", "sms", Input{Data: map[string]any{"message": strings.Repeat("ê", 160)}})
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("e", 160), r.Text)
	require.Equal(t, SMSInfo{Encoding: EncodingGSM7, Segments: 1, Characters: 160}, *r.SMS)
}

func TestSMSWhitespaceCollapses(t *testing.T) {
	t.Parallel()
	dir := writeOverride(t, map[string]string{
		"ws.sms.tmpl": "---\nkind: ws\nchannel: sms\nfields:\n  amount: money\n---\n  Montant :\n   {{.amount}}\n\n  fin.  \n",
	})
	set, err := Load(&Options{OverrideDir: dir})
	require.NoError(t, err)
	r, err := set.Render("ws", "sms", Input{Data: map[string]any{"amount": 1000.0}})
	require.NoError(t, err)
	require.Equal(t, "Montant : 1\u202F000,00\u00A0€ fin.", r.Text, "no-break spaces are kept without transliteration")
}

package templates

import "testing"

func BenchmarkRenderEmail(b *testing.B) {
	set, err := Load(nil)
	if err != nil {
		b.Fatal(err)
	}
	in := Input{Recipient: SampleRecipient(), Data: SampleData(KindRightsOpened)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := set.Render(KindRightsOpened, "email", in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderSMS(b *testing.B) {
	set, err := Load(nil)
	if err != nil {
		b.Fatal(err)
	}
	in := Input{Recipient: SampleRecipient(), Data: SampleData(KindRightsOpened)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := set.Render(KindRightsOpened, "sms", in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAnalyzeSMS(b *testing.B) {
	text := "Caf : vos droits sont ouverts (Prime d'activité), 245,30 € par mois à partir du 1er avril 2027. Détail dans votre espace Mon Compte sur www.caf.fr."
	b.ReportAllocs()
	for b.Loop() {
		_ = AnalyzeSMS(text)
	}
}

func BenchmarkTransliterateGSM(b *testing.B) {
	text := "Caf : vous êtes invité·e à déclarer vos ressources « avril à juin 2027 » avant le 15 juillet… Merci de votre réponse !"
	b.ReportAllocs()
	for b.Loop() {
		_ = TransliterateGSM(text)
	}
}

// benchGeneralMailing renders a general mailing for rotating recipients,
// through the skeletons or plainly.
func benchGeneralMailing(b *testing.B, skel bool) {
	set, err := Load(nil)
	if err != nil {
		b.Fatal(err)
	}
	c := set.tmpls[KindGeneralInformation+"/email"]
	rs := []Recipient{SampleRecipient(), {Ref: "7654321", Civility: "M.", GivenName: "Paul", FamilyName: "Hoarau"}, {Ref: "1111111", GivenName: "Zoé", FamilyName: "Payet"}}
	data := map[string]any{"period": "printemps 2027"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := c.renderWith(Input{Recipient: rs[i%len(rs)], Data: data}, set.agency, skel); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkRenderGeneralMailing(b *testing.B)      { benchGeneralMailing(b, true) }
func BenchmarkRenderGeneralMailingPlain(b *testing.B) { benchGeneralMailing(b, false) }

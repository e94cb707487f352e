package channels

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlanSkipsWhatCannotBeUsed(t *testing.T) {
	t.Parallel()
	full := Contact{Email: "a@exemple.fr", EmailOK: true, Phone: "+33612345678", PhoneMobile: true, PhoneOK: true,
		PostalAddress: "1 rue A\n75001 PARIS", ConsentEmail: true, ConsentSMS: true, ConsentLetter: true}
	route := []Name{Email, SMS, Letter}

	steps, skipped := Plan(route, full, false)
	require.Len(t, steps, 3)
	require.Empty(t, skipped)
	require.Equal(t, Step{Channel: Email, Address: "a@exemple.fr"}, steps[0])

	c := full
	c.EmailOK, c.PhoneMobile = false, false
	steps, skipped = Plan(route, c, false)
	require.Equal(t, []Step{{Channel: Letter, Address: full.PostalAddress}}, steps)
	require.Equal(t, []string{"email: email address undeliverable", "sms: phone is not a mobile"}, skipped)

	c = full
	c.ConsentSMS, c.OutreachOptOut = false, true
	steps, skipped = Plan(route, c, true)
	require.Equal(t, []Step{{Channel: Letter, Address: full.PostalAddress}}, steps, "an unsubscribed beneficiary gets bulk mail by post")
	require.Equal(t, []string{"email: unsubscribed from electronic mailings", "sms: SMS consent withdrawn"}, skipped)
	steps, _ = Plan(route, c, false)
	require.Equal(t, Email, steps[0].Channel, "legal notices ignore the marketing opt-out")

	steps, skipped = Plan(route, Contact{}, false)
	require.Empty(t, steps)
	require.Len(t, skipped, 3)
}

func TestParseRoutes(t *testing.T) {
	t.Parallel()
	r, err := ParseRoutes("reminder_generic=email, sms; no_rights=letter")
	require.NoError(t, err)
	require.Equal(t, []Name{Email, SMS}, r.For("reminder_generic"))
	require.Equal(t, []Name{Letter}, r.For("no_rights"))
	require.Equal(t, DefaultRoutes()["rights_opened"], r.For("rights_opened"))
	require.Equal(t, DefaultRoutes()["default"], r.For("something_new"))
	require.True(t, strings.Contains(r.String(), "no_rights=letter\n"))

	_, err = ParseRoutes("reminder_generic=pigeon")
	require.ErrorContains(t, err, `unknown channel "pigeon"`)
	_, err = ParseRoutes("reminder_generic")
	require.ErrorContains(t, err, "want kind=channel,channel")
}

func BenchmarkPlan(b *testing.B) {
	c := Contact{Email: "a@exemple.fr", EmailOK: true, Phone: "+33612345678", PhoneMobile: true, PhoneOK: true,
		PostalAddress: "1 rue A\n75001 PARIS", ConsentEmail: true, ConsentSMS: false, ConsentLetter: true}
	routes := DefaultRoutes()
	b.ReportAllocs()
	for b.Loop() {
		steps, _ := Plan(routes.For("reminder_generic"), c, false)
		if len(steps) == 0 {
			b.Fatal("no route")
		}
	}
}

package templates

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/agencies"
)

// TestGeneralMailingShowsTheBeneficiarysCaf renders the general mailing for
// a beneficiary of each Caf of the example: its mediator's full contact, its
// reception points with opening and busy hours, its phone hours and its
// letterhead.
func TestGeneralMailingShowsTheBeneficiarysCaf(t *testing.T) {
	t.Parallel()
	set, err := Load(nil)
	require.NoError(t, err)
	caf := agencies.Example()
	for _, code := range []string{"751", "974"} {
		a := caf.Get(code)
		in := Input{Recipient: Recipient{Ref: "1234567", Civility: "Mme", GivenName: "Léa", FamilyName: "Dupré"},
			Data: SampleData("general_information"), Agency: AgencyOf(a)}
		for _, ch := range []string{"email", "letter"} {
			r, err := set.Render("general_information", ch, in)
			require.NoError(t, err)
			text := r.Text
			for _, want := range []string{a.Name, a.Mediator.Address, a.Mediator.Email, a.Mediator.Phone, a.Mediator.OnlineForm,
				a.ReceptionPoints[0].Address, a.ReceptionPoints[0].OpeningHours, a.ReceptionPoints[1].BusyHours, a.Phone.Hours} {
				require.Contains(t, text, want, "%s %s", code, ch)
			}
			if ch == "email" {
				require.Contains(t, r.HTML, a.Mediator.Email)
			} else {
				require.Contains(t, text, a.Letterhead[1], "letterhead")
			}
		}
	}
	// Without an agency, the set's (DefaultAgency) is used as before.
	r, err := set.Render("general_information", "email", Input{Recipient: Recipient{Ref: "1"}, Data: SampleData("general_information")})
	require.NoError(t, err)
	require.Contains(t, r.Text, DefaultAgency().MediatorContact)
}

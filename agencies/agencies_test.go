package agencies

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestExampleHasTwoCafs(t *testing.T) {
	t.Parallel()
	s := Example()
	require.Len(t, s.Agencies, 2)
	paris, reunion := s.Get("751"), s.Get("974")
	require.NotNil(t, paris)
	require.NotNil(t, reunion)
	require.Equal(t, "Indian/Reunion", reunion.Location().String())
	require.Equal(t, reunion, s.ForPostalCode("97410"))
	require.Equal(t, paris, s.ForPostalCode("75019"))
	require.Equal(t, paris, s.ForPostalCode("13001"), "outside every territory: the first Caf")
	require.Equal(t, reunion, s.Resolve("974", "75019"), "intake names the Caf")
	require.Equal(t, paris, s.Resolve("", "75019"))
	// The Caf's closure day and La Réunion's 20 December are not working days.
	cal := reunion.Calendar()
	require.False(t, cal.IsWorkingDay(time.Date(2027, 12, 24, 12, 0, 0, 0, reunion.Location())))
	require.False(t, cal.IsWorkingDay(time.Date(2027, 12, 20, 12, 0, 0, 0, reunion.Location())))
	require.True(t, paris.Calendar().IsWorkingDay(time.Date(2027, 12, 20, 12, 0, 0, 0, paris.Location())))
}

func TestSingleCafInAFewLines(t *testing.T) {
	t.Parallel()
	s, err := Parse("caf.yaml", []byte("agencies:\n  - code: \"971\"\n    name: Caf de la Guadeloupe\n    territory: {departements: [\"971\"]}\n"))
	require.NoError(t, err)
	a := s.Default()
	require.Equal(t, "America/Guadeloupe", a.TimeZone, "the territory's zone by default")
	require.Equal(t, a, s.ForPostalCode("97133"), "Saint-Barthélemy has no Caf of its own here: the default")
	require.False(t, a.Calendar().IsWorkingDay(time.Date(2027, 5, 27, 12, 0, 0, 0, a.Location())), "27 May in Guadeloupe")
}

func TestPostalPrefixBeatsDepartement(t *testing.T) {
	t.Parallel()
	src := `agencies:
  - code: "971"
    name: Caf de la Guadeloupe
    territory: {departements: ["971"]}
  - code: "977"
    name: Caf des îles du Nord
    territory: {postal_prefixes: ["97133", "97150"]}
`
	s, err := Parse("caf.yaml", []byte(src))
	require.NoError(t, err)
	require.Equal(t, "977", s.ForPostalCode("97133").Code)
	require.Equal(t, "971", s.ForPostalCode("97110").Code)
	require.Equal(t, "America/St_Barthelemy", s.Get("977").TimeZone)
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	t.Parallel()
	base := "agencies:\n  - code: \"751\"\n    name: Caf de Paris\n    territory: {departements: [\"75\"]}\n"
	tests := []struct{ name, src, want string }{
		{"empty", "", "caf.yaml: is empty"},
		{"no agency", "agencies: []\n", "caf.yaml: no agency"},
		{"unknown field", base + "    mediateur: x\n", "caf.yaml:5: field mediateur not found"},
		{"bad yaml", base + "  - code: [\n", "caf.yaml:5:"},
		{"bad code", "agencies:\n  - code: \"7 5\"\n    name: x\n    territory: {departements: [\"75\"]}\n", "caf.yaml:2: agencies[0].code: \"7 5\""},
		{"no name", "agencies:\n  - code: \"751\"\n    territory: {departements: [\"75\"]}\n", "caf.yaml:2: agencies[0].name: is required"},
		{"no territory", "agencies:\n  - code: \"751\"\n    name: x\n", "caf.yaml:2: agencies[0].territory: needs"},
		{"bad département", "agencies:\n  - code: \"751\"\n    name: x\n    territory:\n      departements:\n        - \"75\"\n        - \"99\"\n", "caf.yaml:7: agencies[0].territory.departements[1]: \"99\" is not a French département"},
		{"département twice", base + "  - code: \"752\"\n    name: y\n    territory: {departements: [\"75\"]}\n", "caf.yaml:7: agencies[1].territory.departements[0]: 75 is already served by agency 751"},
		{"bad zone", base + "    time_zone: Europe/Lutece\n", "caf.yaml:5: agencies[0].time_zone"},
		{"bad holiday", base + "    holidays:\n      - {date: 2027-13-01}\n", "caf.yaml:6: agencies[0].holidays[0].date"},
		{"bad mediator email", base + "    mediator:\n      email: nobody\n", "caf.yaml:6: agencies[0].mediator.email"},
		{"bad sms sender", base + "    senders: {sms_sender: CAF-DE-PARIS-75}\n", "caf.yaml:5: agencies[0].senders.sms_sender"},
		{"bad route", base + "    routes: {reminder_generic: [fax]}\n", "caf.yaml:5: agencies[0].routes.reminder_generic: unknown channel \"fax\""},
		{"reception without hours", base + "    reception_points:\n      - name: Accueil\n", "caf.yaml:6: agencies[0].reception_points[0].opening_hours: is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("caf.yaml", []byte(tt.src))
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

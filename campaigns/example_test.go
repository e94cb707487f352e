package campaigns_test

import (
	"fmt"
	"time"

	"github.com/courrier-dev/courrier/campaigns"
)

// An audience is compiled to a parameterised SQL condition over recipients r.
func ExampleAudience_Compile() {
	a, err := campaigns.ParseAudience([]byte(`
benefits: [RSA]
regions: [guadeloupe, martinique]
contact: mobile
`))
	if err != nil {
		panic(err)
	}
	c, err := a.Compile(0)
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Where)
	fmt.Println(c.Args...)
	fmt.Println(a.Describe())
	// Output:
	// (r.active)
	//   AND (NOT r.test)
	//   AND (r.benefits && $1::text[])
	//   AND (r.postal_code LIKE ANY ($2::text[]))
	//   AND ((r.phone IS NOT NULL AND r.phone_type = 'mobile' AND r.phone_status = 'ok'))
	// [RSA] [971% 972%]
	// active beneficiaries who holds any of RSA; and lives in département 971, 972; and has a usable mobile number
}

// Bad filters are errors that name the field.
func ExampleParseAudience_error() {
	_, err := campaigns.ParseAudience([]byte(`life_event: {kind: first_birth, from: 2027-02-30}`))
	fmt.Println(err)
	// Output:
	// audience filter life_event.from: "2027-02-30" is not a date (YYYY-MM-DD)
}

// The embedded calendar has three general mailings in 2027 and a quarterly
// reminder for minimum-income beneficiaries.
func ExampleCalendar_Occurrences() {
	cal, err := campaigns.DefaultCalendar()
	if err != nil {
		panic(err)
	}
	from := time.Date(2027, 1, 1, 0, 0, 0, 0, campaigns.Paris())
	occ, err := cal.Occurrences(from, from.AddDate(0, 7, 0))
	if err != nil {
		panic(err)
	}
	for _, o := range occ {
		fmt.Println(o.Key(), o.Kind, o.New.Data["period"])
	}
	// Output:
	// rsa-declaration-trimestrielle@2027-01-01 reminder octobre à décembre 2026
	// lettre-printemps-2027@2027-03-16 general_mailing printemps 2027
	// rsa-declaration-trimestrielle@2027-04-01 reminder janvier à mars 2027
	// lettre-ete-2027@2027-06-15 general_mailing été 2027
	// rsa-declaration-trimestrielle@2027-07-01 reminder avril à juin 2027
}

package compliance_test

import (
	"fmt"
	"os"
	"time"

	"github.com/courrier-dev/courrier/compliance"
)

func ExampleParsePeriod() {
	p, _ := compliance.ParsePeriod("2028-01-01", "2028-12-31")
	fmt.Println(p.From.Format(time.RFC3339), "to", p.To.Format(time.RFC3339))
	// Output: 2028-01-01T00:00:00+01:00 to 2029-01-01T00:00:00+01:00
}

func ExampleMaskAddress() {
	fmt.Println(compliance.MaskAddress("email", "claire.martin@example.fr"))
	fmt.Println(compliance.MaskAddress("sms", "+33612345678"))
	// Output:
	// c*****@e*****.fr
	// +33 6 ** ** ** 78
}

func ExampleWriteCSV() {
	p, _ := compliance.ParsePeriod("2028-04-01", "2028-04-30")
	p.AsOf = p.To
	at := time.Date(2028, 4, 20, 9, 0, 0, 0, time.UTC)
	rep := &compliance.Report{
		Rule: compliance.RuleComplaints15d, Period: p, Target: "100 % of complaints answered within 15x24h",
		Metrics: []compliance.Metric{
			{Name: "judged", Value: 3, Unit: compliance.UnitCount},
			{Name: "in_time", Value: 2, Unit: compliance.UnitCount},
			{Name: "in_time_share", Value: 6666, Unit: compliance.UnitBasisPoints},
		},
		Evidence: []compliance.EvidenceCount{{Level: compliance.EvidencePrintHanded, Count: 3}},
		Lists:    []compliance.List{{Name: "late", Entries: []compliance.Entry{{Ref: "0123456", Item: "REQ-9", At: &at, Value: 1382400}}}},
	}
	_ = compliance.WriteCSV(os.Stdout, rep)
	// Output:
	// section,name,ref,item,at,value,unit
	// result,complaints-15d,,2028-03-31T22:00:00Z/2028-04-30T22:00:00Z,2028-04-30T22:00:00Z,FAIL,100 % of complaints answered within 15x24h
	// metric,judged,,,,3,count
	// metric,in_time,,,,2,count
	// metric,in_time_share,,,,6666,basis_points
	// evidence,print_handed,,,,3,count
	// list,late,0123456,REQ-9,2028-04-20T09:00:00Z,1382400,
}

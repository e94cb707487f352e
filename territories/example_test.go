package territories_test

import (
	"fmt"
	"time"

	"github.com/courrier-dev/courrier/territories"
)

func ExampleForPostalCode() {
	t, _ := territories.ForPostalCode("97110")
	fmt.Println(t.Code, t.Name, t.TimeZone, t.Region)
	cal := t.Calendar()
	fmt.Println(cal.IsHoliday(time.Date(2027, time.May, 27, 12, 0, 0, 0, t.Location())))
	// Output:
	// 971 Guadeloupe America/Guadeloupe GP
	// true
}

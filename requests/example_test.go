package requests_test

import (
	"fmt"
	"time"

	"github.com/courrier-dev/courrier/requests"
)

func ExampleSettings_AckDueBy() {
	paris, _ := time.LoadLocation("Europe/Paris")
	friday := time.Date(2027, 3, 26, 18, 0, 0, 0, paris)

	calendar := requests.Settings{}
	working := requests.Settings{WorkingDays: true}
	fmt.Println(calendar.AckDueBy(friday).Format("Mon 2 Jan 15:04"))
	fmt.Println(working.AckDueBy(friday).Format("Mon 2 Jan 15:04")) // Easter Monday skipped
	fmt.Println(calendar.AnswerDueBy(requests.KindBenefitClaim, true, friday).Format("Mon 2 Jan"))
	// Output:
	// Wed 31 Mar 18:00
	// Mon 5 Apr 18:00
	// Mon 5 Apr
}
